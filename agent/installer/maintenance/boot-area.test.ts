import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGptEntries, parseGptHeader } from "../gpt.js";
import {
  bootAreaExtents,
  classifyLba,
  describeRuns,
  diffBootArea,
  splitBootArea,
  type BootAreaBytes,
  type BootAreaLayout,
} from "./boot-area.js";
import { makeGptDisk } from "./test-disk.js";

const MiB = 2 ** 20;
let dir: string;
let image: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-boot-area-"));
  image = readFileSync(makeGptDisk(dir, { sizeMiB: 16, root: false }).path);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function header() {
  return parseGptHeader(image.subarray(512, 1024), "test disk");
}

function partitions() {
  const h = header();
  const entries = image.subarray(
    Number(h.entriesLba) * 512,
    Number(h.entriesLba) * 512 + h.count * h.entrySize,
  );
  return parseGptEntries(entries, h.count, h.entrySize);
}

describe("bootAreaExtents", () => {
  it("takes the head up to the first partition and the backup GPT at the end (sfdisk's layout)", () => {
    expect(bootAreaExtents(header(), partitions(), { diskBytes: image.length, sectorBytes: 512 })).toEqual({
      headBytes: MiB,
      tailBytes: 33 * 512,
      tailNote: null,
    });
  });

  it("records no tail when the backup GPT is not at the disk's end (an image on a bigger disk)", () => {
    const extents = bootAreaExtents(header(), partitions(), {
      diskBytes: 4 * image.length,
      sectorBytes: 512,
    });
    expect(extents.headBytes).toBe(MiB);
    expect(extents.tailBytes).toBe(0);
    expect(extents.tailNote).toMatch(/backup GPT header is at LBA 32767, not the disk's last LBA 131071/);
  });

  it("stops the head at 1 MiB even when the first partition starts later", () => {
    const late = partitions().map((p) => ({ ...p, firstLba: p.firstLba + 8192n }));
    expect(bootAreaExtents(header(), late, { diskBytes: image.length, sectorBytes: 512 }).headBytes).toBe(
      MiB,
    );
  });

  it("without partitions, takes the head up to the first usable LBA", () => {
    const { firstUsableLba } = header();
    expect(bootAreaExtents(header(), [], { diskBytes: image.length, sectorBytes: 512 }).headBytes).toBe(
      Number(firstUsableLba) * 512,
    );
  });
});

describe("diffBootArea", () => {
  const layout = (): BootAreaLayout => ({
    diskBytes: image.length,
    sectorBytes: 512,
    headBytes: MiB,
    tailBytes: 33 * 512,
  });
  const recorded = (): BootAreaBytes => ({
    head: Buffer.from(image.subarray(0, MiB)),
    tail: Buffer.from(image.subarray(image.length - 33 * 512)),
  });

  it("finds nothing in an identical copy", () => {
    expect(diffBootArea(layout(), recorded(), recorded())).toEqual({ differingSectors: 0, runs: [] });
    expect(describeRuns([])).toBe("nothing differs");
  });

  it("names each differing sector's region and groups adjacent ones", () => {
    const current = recorded();
    const head = Buffer.from(current.head);
    const tail = Buffer.from(current.tail);
    const flip = (bytes: Buffer, at: number): void => {
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    };
    flip(head, 10); // boot code
    flip(head, 512 + 20); // primary header (a reserved field)
    flip(head, 1024 + 7); // entries, LBA 2 and 3
    flip(head, 1536 + 7);
    flip(head, 100 * 512); // the gap before the first partition
    flip(tail, 0); // first backup entry sector
    flip(tail, tail.length - 1); // backup header (the disk's last LBA)
    const diff = diffBootArea(layout(), recorded(), { head, tail });
    const last = image.length / 512 - 1;
    expect(diff.differingSectors).toBe(7);
    expect(
      diff.runs.map(({ region, area, firstSector, sectors, detail }) => ({
        region,
        area,
        firstSector,
        sectors,
        detail,
      })),
    ).toEqual([
      { region: "mbr", area: "head", firstSector: 0, sectors: 1, detail: "boot code" },
      { region: "gpt-header", area: "head", firstSector: 1, sectors: 1, detail: null },
      { region: "gpt-entries", area: "head", firstSector: 2, sectors: 2, detail: null },
      { region: "other", area: "head", firstSector: 100, sectors: 1, detail: null },
      { region: "backup-gpt", area: "tail", firstSector: last - 32, sectors: 1, detail: null },
      { region: "backup-gpt", area: "tail", firstSector: last, sectors: 1, detail: null },
    ]);
    expect(diff.runs[4]?.offsetBytes).toBe((last - 32) * 512);
    expect(describeRuns(diff.runs)).toBe(
      `mbr (boot code): sector 0; gpt-header: sector 1; gpt-entries: sectors 2-3; other: sector 100; backup-gpt: sector ${last - 32}; backup-gpt: sector ${last}`,
    );
  });

  it("tells the MBR's partition table from its boot code", () => {
    const head = Buffer.from(recorded().head);
    head[446 + 4] = (head[446 + 4] ?? 0) ^ 0xff;
    const diff = diffBootArea(layout(), recorded(), { head, tail: recorded().tail });
    expect(diff.runs[0]?.detail).toBe("partition table");
  });

  it("refuses bytes of the wrong length", () => {
    expect(() =>
      diffBootArea(layout(), recorded(), { head: Buffer.alloc(512), tail: recorded().tail }),
    ).toThrow(/disk's head is 512 bytes, expected 1048576/);
    expect(() => splitBootArea(Buffer.alloc(10), { headBytes: 8, tailBytes: 4 })).toThrow(
      /10 long, the record says 8 \+ 4/,
    );
  });
});

describe("classifyLba", () => {
  it("knows only the MBR without a GPT header", () => {
    expect(classifyLba(0n, null, 512)).toBe("mbr");
    expect(classifyLba(1n, null, 512)).toBe("other");
  });
});
