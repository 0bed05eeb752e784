// The GPT writer against the oracle every Linux installer trusts: sfdisk reads back (--json) and checks
// (--verify) what we wrote, for a fresh table and for an sfdisk-made image grown onto a bigger disk; and
// the reader's refusal of a table whose CRC32s do not match.
// sfdisk is required (build-scripts/setup.sh installs fdisk): the test fails without it.
import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { readGptTable } from "./gpt.js";
import {
  addEntry,
  emptyTable,
  extendTable,
  guidFromSeed,
  gptWrites,
  growLastPartition,
  lastUsableLba,
  MiB,
  placePartitions,
  type DiskWrite,
} from "./gpt-write.js";

const work = mkdtempSync(join(tmpdir(), "bootwright-gpt-"));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F";
const ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

interface SfdiskTable {
  partitiontable: {
    label: string;
    id: string;
    firstlba: number;
    lastlba: number;
    partitions: {
      node: string;
      start: number;
      size: number;
      type: string;
      uuid: string;
      name?: string;
      attrs?: string;
    }[];
  };
}

function sfdiskJson(path: string): SfdiskTable["partitiontable"] {
  return (JSON.parse(execFileSync("sfdisk", ["--json", path]).toString()) as SfdiskTable).partitiontable;
}

function sfdiskVerify(path: string): string {
  // --verify exits 0 and prints "No errors detected." when the table is sound.
  return execFileSync("sfdisk", ["--verify", path], { stdio: ["ignore", "pipe", "pipe"] }).toString();
}

/** The i-th element, failing the test when it is missing. */
function nth<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new Error(`no element ${i}`);
  return item;
}

function blankDisk(name: string, bytes: number): string {
  const path = join(work, name);
  closeSync(openSync(path, "w"));
  truncateSync(path, bytes);
  return path;
}

/** A whole-disk image of `bytes`, its GPT made by sfdisk from the partitions' script lines. */
function sfdiskImage(name: string, bytes: number, labelId: string, partitions: readonly string[]): string {
  const path = blankDisk(name, bytes);
  execFileSync("sfdisk", ["--quiet", path], {
    input: ["label: gpt", `label-id: ${labelId}`, ...partitions, ""].join("\n"),
  });
  return path;
}

function apply(path: string, writes: readonly DiskWrite[]): void {
  const fd = openSync(path, "r+");
  try {
    for (const w of writes) writeSync(fd, w.bytes, 0, w.bytes.length, w.offset);
  } finally {
    closeSync(fd);
  }
}

describe("placePartitions", () => {
  it("starts at 1 MiB, packs whole MiB, and ends 'rest' on the last whole MiB", () => {
    const placed = placePartitions([8 * MiB, 16 * MiB, "rest"], 34n, 131_038n, 512);
    expect(placed).toEqual([
      { firstLba: 2048n, lastLba: 2048n + 16_384n - 1n },
      { firstLba: 18_432n, lastLba: 18_432n + 32_768n - 1n },
      { firstLba: 51_200n, lastLba: 129_023n },
    ]);
  });

  it("refuses partitions that do not fit, saying how much is left", () => {
    expect(() => placePartitions([8 * MiB, 64 * MiB], 34n, 131_038n, 512)).toThrow(
      /partition 2 \(67108864 bytes\) does not fit: 54 MiB left at LBA 18432/,
    );
    expect(() => placePartitions(["rest", 8 * MiB], 34n, 131_038n, 512)).toThrow(/"rest" must be the last/);
  });

  it("works in 4 KiB sectors too", () => {
    expect(placePartitions([MiB, "rest"], 6n, 16_378n, 4096)).toEqual([
      { firstLba: 256n, lastLba: 511n },
      { firstLba: 512n, lastLba: 16_127n },
    ]);
  });
});

describe("guidFromSeed", () => {
  it("is stable per seed, differs between seeds, and is a version-4 RFC 4122 GUID", () => {
    const a = guidFromSeed("machine-1/plan/data");
    expect(guidFromSeed("machine-1/plan/data")).toBe(a);
    expect(guidFromSeed("machine-1/plan/swap")).not.toBe(a);
    expect(a).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  });
});

describe("gptWrites", () => {
  it("writes a fresh table that sfdisk reads back exactly and verifies clean", () => {
    const bytes = 64 * MiB;
    const path = blankDisk("fresh.img", bytes);
    const table = emptyTable(512, BigInt(bytes / 512), "B0077A1C-0D15-4A5E-8F00-0000000000AA");
    const placed = placePartitions(
      [8 * MiB, 16 * MiB, "rest"],
      table.firstUsableLba,
      lastUsableLba(table),
      512,
    );
    const specs = [
      { name: "efi", typeGuid: ESP },
      { name: "swap", typeGuid: SWAP },
      { name: "data", typeGuid: LINUX },
    ];
    const numbers = specs.map((spec, i) =>
      addEntry(table, { ...spec, uniqueGuid: guidFromSeed(spec.name), ...nth(placed, i) }),
    );
    expect(numbers).toEqual([1, 2, 3]);
    apply(path, gptWrites(table));

    const read = sfdiskJson(path);
    expect(read.label).toBe("gpt");
    expect(read.id).toBe("B0077A1C-0D15-4A5E-8F00-0000000000AA");
    expect(read.firstlba).toBe(34);
    expect(read.lastlba).toBe(bytes / 512 - 34);
    expect(
      read.partitions.map((p) => ({
        start: p.start,
        size: p.size,
        type: p.type,
        uuid: p.uuid,
        name: p.name,
      })),
    ).toEqual(
      specs.map((spec, i) => ({
        start: Number(nth(placed, i).firstLba),
        size: Number(nth(placed, i).lastLba - nth(placed, i).firstLba + 1n),
        type: spec.typeGuid,
        uuid: guidFromSeed(spec.name),
        name: spec.name,
      })),
    );
    expect(sfdiskVerify(path)).toMatch(/No errors detected/);
  });

  it("grows an sfdisk-made image onto a bigger disk and adds a partition after its last one", async () => {
    // A whole-disk image as build-os-image makes them: boot code in the MBR, an ESP with
    // LegacyBIOSBootable, the marker partition, and the backup GPT at the image's own end.
    const imageBytes = 20 * MiB;
    const image = sfdiskImage("image.img", imageBytes, "B0077A1C-0D15-4A5E-8F00-0000000000D1", [
      `start=2048, size=16384, type=${ESP}, uuid=B0077A1C-0D15-4A5E-8F00-000000000001, name="esp", attrs="LegacyBIOSBootable"`,
      `start=18432, size=2048, type=${LINUX}, uuid=B0077A1C-0D15-4A5E-8F00-000000000002, name="bootwright-marker"`,
    ]);
    const bootCode = Buffer.alloc(440, 0x5a);
    apply(image, [{ what: "boot code", offset: 0, bytes: bootCode }]);
    const before = sfdiskJson(image);

    const diskBytes = 64 * MiB;
    const disk = blankDisk("disk.img", diskBytes);
    apply(disk, [{ what: "image", offset: 0, bytes: readFileSync(image) }]);
    const onDisk = await readGptTable(disk, 512);
    const { table, stale } = extendTable(onDisk, 512, BigInt(diskBytes / 512));
    expect(stale.map((w) => [w.offset, w.bytes.length])).toEqual([[imageBytes - 33 * 512, 33 * 512]]);
    const data = nth(placePartitions(["rest"], 20_480n, lastUsableLba(table), 512), 0);
    expect(
      addEntry(table, { name: "data", typeGuid: LINUX, uniqueGuid: guidFromSeed("data"), ...data }),
    ).toBe(3);
    apply(disk, [...stale, ...gptWrites(table)]);

    const after = sfdiskJson(disk);
    expect(after.id).toBe(before.id);
    expect(after.lastlba).toBe(diskBytes / 512 - 34);
    expect(after.partitions.slice(0, 2)).toEqual(
      before.partitions.map((p) => ({ ...p, node: p.node.replace(image, disk) })),
    );
    expect(after.partitions[2]).toMatchObject({ start: 20_480, name: "data", type: LINUX });
    const added = nth(after.partitions, 2);
    expect(added.start + added.size).toBe(diskBytes / 512 - 2048);
    expect(sfdiskVerify(disk)).toMatch(/No errors detected/);
    const bytes = readFileSync(disk);
    expect(bytes.subarray(0, 440).equals(bootCode)).toBe(true);
    // The protective MBR now covers the whole disk; the old backup header is gone.
    expect(bytes.readUInt32LE(446 + 12)).toBe(diskBytes / 512 - 1);
    expect(bytes.subarray(imageBytes - 512, imageBytes).every((b) => b === 0)).toBe(true);
  });

  it("grows an image's last partition into room added after it, and refuses one that is not last", async () => {
    // As build-os-image lays out the Debian image: the root partition last, up to the last whole MiB.
    const imageBytes = 20 * MiB;
    const image = sfdiskImage("grow-image.img", imageBytes, "B0077A1C-0D15-4A5E-8F00-0000000000D2", [
      `start=2048, size=8192, type=${ESP}, name="esp"`,
      `start=10240, size=28672, type=${LINUX}, name="root"`,
    ]);
    const before = sfdiskJson(image);
    // The recipe's room (8 MiB) and then some unrelated disk beyond it, which the table must not claim.
    const grownBytes = imageBytes + 8 * MiB;
    const disk = blankDisk("grow-disk.img", 64 * MiB);
    apply(disk, [{ what: "image", offset: 0, bytes: readFileSync(image) }]);
    const { table, stale } = extendTable(await readGptTable(disk, 512), 512, BigInt(grownBytes / 512));
    expect(growLastPartition(table, "root")).toEqual({ number: 2, fromLba: 38_911n, toLba: 55_295n });
    apply(disk, [...stale, ...gptWrites(table)]);

    const grown = Buffer.alloc(grownBytes);
    readFileSync(disk).copy(grown, 0, 0, grownBytes);
    const extent = join(work, "grow-extent.img");
    writeFileSync(extent, grown);
    // What the capture uploads is a whole, valid disk of the grown extent, its root 8 MiB bigger.
    const after = sfdiskJson(extent);
    expect(sfdiskVerify(extent)).toMatch(/No errors detected/);
    expect(after.lastlba).toBe(grownBytes / 512 - 34);
    expect(nth(after.partitions, 0)).toEqual({ ...nth(before.partitions, 0), node: `${extent}1` });
    expect(nth(after.partitions, 1)).toMatchObject({ start: 10_240, size: 28_672 + 16_384, name: "root" });
    // Again: nothing left to grow, the same answer.
    const again = extendTable(await readGptTable(extent, 512), 512, BigInt(grownBytes / 512));
    expect(again.stale).toEqual([]);
    expect(growLastPartition(again.table, "root")).toEqual({ number: 2, fromLba: 55_295n, toLba: 55_295n });
    expect(() => growLastPartition(again.table, "esp")).toThrow(/partition 2 \(root\) lies after it/);
    expect(() => growLastPartition(again.table, "data")).toThrow(/no partition named data/);
  });

  it("refuses an entry name over 36 characters", () => {
    const table = emptyTable(512, 131_072n, guidFromSeed("disk"));
    expect(() =>
      addEntry(table, {
        name: "x".repeat(37),
        typeGuid: LINUX,
        uniqueGuid: guidFromSeed("x"),
        firstLba: 2048n,
        lastLba: 4095n,
      }),
    ).toThrow(/over 36 characters/);
  });
});

describe("readGptTable", () => {
  it("uses GPT's CRC32 and refuses a table whose header or entry array no longer matches it", async () => {
    // The catalogued check value of CRC-32/ISO-HDLC, the variant UEFI §5.3.2 names (not CRC-32C).
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    const bytes = 8 * MiB;
    const table = emptyTable(512, BigInt(bytes / 512), guidFromSeed("crc-disk"));
    addEntry(table, {
      name: "data",
      typeGuid: LINUX,
      uniqueGuid: guidFromSeed("crc-data"),
      ...nth(placePartitions(["rest"], table.firstUsableLba, lastUsableLba(table), 512), 0),
    });
    const flipped = (name: string, offset: number): string => {
      const path = blankDisk(name, bytes);
      apply(path, gptWrites(table));
      const byte = readFileSync(path).subarray(offset, offset + 1);
      apply(path, [{ what: "flipped byte", offset, bytes: Buffer.from([(byte[0] ?? 0) ^ 0x01]) }]);
      return path;
    };
    const sound = blankDisk("crc-sound.img", bytes);
    apply(sound, gptWrites(table));
    expect((await readGptTable(sound, 512)).header.count).toBe(128);
    // LBA 1 + 48: the header's last usable LBA; LBA 2 + 56: the first entry's name.
    await expect(readGptTable(flipped("crc-header.img", 512 + 48), 512)).rejects.toThrow(
      /the GPT header's CRC32 does not match/,
    );
    await expect(readGptTable(flipped("crc-entries.img", 1024 + 56), 512)).rejects.toThrow(
      /the GPT entry array's CRC32 does not match its header/,
    );
  });
});
