import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { BootAreaRecord, Inventory } from "../../../protocol/index.js";
import { run } from "../../shared/run-command.js";
import { readGptTable, parseGptEntries } from "../gpt.js";
import type { Exec } from "../plugin.js";
import { TEST_INVENTORY } from "../test-support.js";
import { bootAreaExtents } from "./boot-area.js";
import type { MaintenanceStepContext } from "./program.js";
import { steps } from "./repair.js";
import { fakeRoot, makeGptDisk, type TestDisk } from "./test-disk.js";

const IMAGE = `sha256:${"ab".repeat(32)}`;
const PLAN = `sha256:${"cd".repeat(32)}`;

let dir: string;
let disk: TestDisk;
let plainDisk: TestDisk;
let imageDir: string;
let server: Server;
let serverUrl: string;
/** What the test server answers for machine m-1 (null: 404). */
let served: { record: BootAreaRecord; bytes: Buffer } | null;

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The record the boot-area plugin would make of `image`, and its bytes. */
async function recordOf(image: TestDisk, device: string): Promise<{ record: BootAreaRecord; bytes: Buffer }> {
  const { header, entries } = await readGptTable(image.path, 512);
  const extents = bootAreaExtents(header, parseGptEntries(entries, header.count, header.entrySize), {
    diskBytes: image.sizeBytes,
    sectorBytes: 512,
  });
  const whole = readFileSync(image.path);
  const bytes = Buffer.concat([
    whole.subarray(0, extents.headBytes),
    whole.subarray(image.sizeBytes - extents.tailBytes),
  ]);
  return {
    record: {
      device,
      diskBytes: image.sizeBytes,
      sectorBytes: 512,
      headBytes: extents.headBytes,
      tailBytes: extents.tailBytes,
      sha256: sha256(bytes),
      image: IMAGE,
      planHash: PLAN,
      recordedAt: "2026-01-01T00:00:00.000Z",
    },
    bytes,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-repair-"));
  mkdirSync(join(dir, "disk"));
  disk = makeGptDisk(join(dir, "disk"), { sizeMiB: 48, root: true });
  mkdirSync(join(dir, "plain"));
  plainDisk = makeGptDisk(join(dir, "plain"), { sizeMiB: 16, root: false });
  // The repair image as the loader unpacks it: bin/e2fsck (the host's) and lib/ (empty: the host has them).
  imageDir = join(dir, "image");
  mkdirSync(join(imageDir, "bin"), { recursive: true });
  mkdirSync(join(imageDir, "lib"));
  symlinkSync("/usr/sbin/e2fsck", join(imageDir, "bin/e2fsck"));
  server = createServer((req, res) => {
    const answer = (status: number, body: unknown, type = "application/json"): void => {
      res.writeHead(status, { "content-type": type });
      res.end(Buffer.isBuffer(body) ? body : JSON.stringify(body));
    };
    if (!served) answer(404, { code: "not_found", message: "machine m-1 has no recorded boot area" });
    else if (req.method === "GET" && req.url === "/v1/machines/m-1/boot-area") answer(200, served.record);
    else if (req.method === "GET" && req.url === "/v1/machines/m-1/boot-area/bytes")
      answer(200, served.bytes, "application/octet-stream");
    else answer(404, { code: "not_found", message: `no route ${req.method ?? "?"} ${req.url ?? "?"}` });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

let roots: string[] = [];
afterEach(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
  roots = [];
});

function newRoot(): string {
  const root = mkdtempSync(join(dir, "root-"));
  roots.push(root);
  return root;
}

/** Runs only the image's e2fsck, for real; any other program fails the test. */
const onlyE2fsck: Exec = (command, argv, options) =>
  command === join(imageDir, "bin/e2fsck")
    ? run(command, argv, options)
    : Promise.reject(new Error(`program not faked: ${command} ${argv.join(" ")}`));

function context(
  root: string,
  options: { inventory?: Partial<Inventory>; exec?: Exec } = {},
): MaintenanceStepContext {
  return {
    machine: { id: "m-1", serverUrl, credential: "bwm_test" },
    inventory: { ...TEST_INVENTORY, ...options.inventory },
    root,
    imageDir,
    params: {},
    signal: AbortSignal.timeout(20_000),
    exec: options.exec ?? onlyE2fsck,
    progress: () => undefined,
  };
}

async function runStep(name: string, ctx: MaintenanceStepContext): Promise<Record<string, unknown>> {
  const step = steps[name];
  if (!step) throw new Error(`no step ${name}`);
  return step.run(ctx);
}

/** Flips bytes in the boot code, the primary header, one entry and the backup header of `path`. */
function corrupt(path: string, sizeBytes: number): void {
  const bytes = readFileSync(path);
  for (const at of [17, 512 + 40, 1024 + 3 * 128 + 60, sizeBytes - 512 + 8])
    bytes[at] = (bytes[at] ?? 0) ^ 0x5a;
  writeFileSync(path, bytes);
}

describe("check-boot-area and restore-boot-area", () => {
  beforeAll(async () => {
    served = await recordOf(disk, "vdb");
  });

  it("finds nothing on an intact disk", async () => {
    const root = newRoot();
    fakeRoot(root, disk, "vdb");
    const found = await runStep("check-boot-area", context(root));
    expect(found).toMatchObject({
      device: "vdb",
      foundBy: "name",
      differs: false,
      differingSectors: 0,
      regions: [],
    });
  });

  it("finds the damaged regions, restores exactly them, and a second restore writes nothing", async () => {
    const root = newRoot();
    const device = fakeRoot(root, disk, "vdb");
    corrupt(device, disk.sizeBytes);
    const damaged = sha256(readFileSync(device));
    const last = disk.sizeBytes / 512 - 1;

    const check = await runStep("check-boot-area", context(root));
    expect(sha256(readFileSync(device))).toBe(damaged); // the check writes nothing
    expect(check).toMatchObject({ differs: true, differingSectors: 4, markerMatches: null });
    const regions = [
      { region: "mbr", area: "head", firstSector: 0, sectors: 1, offsetBytes: 0, detail: "boot code" },
      { region: "gpt-header", area: "head", firstSector: 1, sectors: 1, offsetBytes: 512, detail: null },
      { region: "gpt-entries", area: "head", firstSector: 2, sectors: 1, offsetBytes: 1024, detail: null },
      {
        region: "backup-gpt",
        area: "tail",
        firstSector: last,
        sectors: 1,
        offsetBytes: last * 512,
        detail: null,
      },
    ];
    expect(check.regions).toEqual(regions);
    expect(check.summary).toBe(
      `mbr (boot code): sector 0; gpt-header: sector 1; gpt-entries: sector 2; backup-gpt: sector ${last}`,
    );

    const restore = await runStep("restore-boot-area", context(root));
    expect(restore).toMatchObject({
      restoredSectors: 4,
      regions,
      verified: true,
      partitionTable: "not a block device: nothing to re-read",
      written: regions.map((r) => ({ offsetBytes: r.offsetBytes, bytes: 512 })),
    });
    // Byte for byte the disk as installed: only the damaged sectors were written.
    expect(sha256(readFileSync(device))).toBe(sha256(readFileSync(disk.path)));

    const again = await runStep("restore-boot-area", context(root));
    expect(again).toMatchObject({ restoredSectors: 0, written: [], differs: false });
    expect(again.message).toMatch(/nothing written/);
  });

  it("refuses a record whose bytes do not match its sha256, and writes nothing", async () => {
    const root = newRoot();
    const device = fakeRoot(root, disk, "vdb");
    corrupt(device, disk.sizeBytes);
    const before = sha256(readFileSync(device));
    const good = await recordOf(disk, "vdb");
    const bytes = Buffer.from(good.bytes);
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    served = { record: good.record, bytes };
    try {
      await expect(runStep("restore-boot-area", context(root))).rejects.toThrow(
        new RegExp(
          `the recorded boot area is corrupt: its ${bytes.length} bytes have sha256 [0-9a-f]{64}, the record says ${good.record.sha256}: refusing to use it`,
        ),
      );
      expect(sha256(readFileSync(device))).toBe(before);
    } finally {
      served = good;
    }
  });

  it("finds a renamed disk by its size, and names what it saw when none fits", async () => {
    const root = newRoot();
    fakeRoot(root, disk, "sdb");
    expect(await runStep("check-boot-area", context(root))).toMatchObject({ device: "sdb", foundBy: "size" });
    const other = newRoot();
    fakeRoot(other, plainDisk, "vdc");
    await expect(runStep("check-boot-area", context(other))).rejects.toThrow(
      `no disk matches the boot-area record (vdb, ${disk.sizeBytes} bytes): none has that size; saw vdc (${plainDisk.sizeBytes} bytes)`,
    );
  });

  it("refuses to restore over a different install (its marker names another image)", async () => {
    const root = newRoot();
    const device = fakeRoot(root, disk, "vdb");
    corrupt(device, disk.sizeBytes);
    const marker = { image: `sha256:${"ef".repeat(32)}`, planHash: PLAN, partition: "vdb2" };
    await expect(
      runStep("restore-boot-area", context(root, { inventory: { installedMarker: marker } })),
    ).rejects.toThrow(/now holds a different install .* restoring it would write a stale table/);
    const same = { image: IMAGE, planHash: PLAN, partition: "vdb2" };
    expect(
      await runStep("check-boot-area", context(root, { inventory: { installedMarker: same } })),
    ).toMatchObject({
      markerMatches: true,
    });
  });

  it("says so when the server has no record", async () => {
    const saved = served;
    served = null;
    try {
      await expect(runStep("check-boot-area", context(newRoot()))).rejects.toThrow(
        /^GET http:.*\/v1\/machines\/m-1\/boot-area: HTTP 404 not_found: machine m-1 has no recorded boot area$/,
      );
    } finally {
      served = saved;
    }
  });
});

describe("fsck-root", () => {
  beforeAll(async () => {
    served = await recordOf(disk, "vdb");
  });

  it("checks the root partition's ext4 and reports a clean one", async () => {
    const root = newRoot();
    fakeRoot(root, disk, "vdb");
    const result = await runStep("fsck-root", context(root));
    expect(result).toMatchObject({
      device: "vdb",
      partition: "vdb3",
      exitCode: 0,
      corrected: false,
      result: "clean",
    });
    expect(result.output).toMatch(/^root: 11\/\d+ files/);
  });

  it("reports errors e2fsck corrected (exit 1) and fails on errors it left (exit 4)", async () => {
    const root = newRoot();
    fakeRoot(root, disk, "vdb");
    const fs = join(root, "dev/vdb3");
    execFileSync("debugfs", ["-w", "-R", "ssv free_blocks_count 1", fs], { stdio: "ignore" });
    expect(await runStep("fsck-root", context(root))).toMatchObject({
      exitCode: 1,
      corrected: true,
      result: "errors corrected",
    });
    execFileSync("debugfs", ["-w", "-R", "clri <2>", fs], { stdio: "ignore" });
    await expect(runStep("fsck-root", context(root))).rejects.toThrow(
      /^e2fsck on vdb3 \(partition 3 "root" of vdb\): exit 4, errors left uncorrected: root: Root inode is not a directory/,
    );
  });

  it("is skipped on a disk without a partition named root", async () => {
    const saved = served;
    served = await recordOf(plainDisk, "vdc");
    try {
      const root = newRoot();
      fakeRoot(root, plainDisk, "vdc");
      expect(await runStep("fsck-root", context(root))).toEqual({
        skipped: "no partition named root",
        device: "vdc",
      });
    } finally {
      served = saved;
    }
  });
});

/**
 * The same repair through the kernel: the image on a loop device (losetup --partscan), so
 * restore-boot-area's BLKRRPART (blockdev --rereadpt) is real, and, when this kernel reads GPTs
 * (some minimal VM kernels do not), fsck-root finds the root partition through sysfs. Needs root.
 */
const canLoop = process.getuid?.() === 0 && spawnSync("losetup", ["--find"]).status === 0;
describe.skipIf(!canLoop)("on a loop device", () => {
  const attached: string[] = [];
  const attach = (file: string): string => {
    const loop = execFileSync("losetup", ["--find", "--show", "--partscan", file]).toString().trim();
    attached.push(loop);
    return loop;
  };
  afterAll(() => {
    for (const loop of attached) execFileSync("losetup", ["--detach", loop]);
  });

  /** Whether the kernel shows the partitions of an intact copy (CONFIG_EFI_PARTITION). */
  async function kernelReadsGpt(): Promise<boolean> {
    const file = join(dir, "probe.img");
    copyFileSync(disk.path, file);
    const name = attach(file).replace("/dev/", "");
    for (let i = 0; i < 20; i++) {
      if (existsSync(`/sys/block/${name}/${name}p3`)) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  let ctx: MaintenanceStepContext | undefined;
  let name = "";

  it("restores the table and has the kernel re-read it (BLKRRPART)", async () => {
    const file = join(dir, "loop.img");
    copyFileSync(disk.path, file);
    corrupt(file, disk.sizeBytes);
    name = attach(file).replace("/dev/", "");
    served = await recordOf(disk, name);
    const exec: Exec = (command, argv, options) =>
      command === "blockdev" || command === join(imageDir, "bin/e2fsck")
        ? run(command, argv, options)
        : Promise.reject(new Error(`program not faked: ${command}`));
    ctx = context("/", { exec, inventory: { disks: [{ name, sizeBytes: disk.sizeBytes }] } });
    expect(await runStep("restore-boot-area", ctx)).toMatchObject({
      device: name,
      restoredSectors: 4,
      verified: true,
      partitionTable: "re-read by the kernel",
    });
    expect(sha256(readFileSync(file))).toBe(sha256(readFileSync(disk.path)));
  });

  it("then checks the root partition the kernel now shows", async (test) => {
    if (!ctx) throw new Error("the restore test did not run");
    if (!(await kernelReadsGpt())) test.skip("this kernel shows no GPT partitions on loop devices");
    expect(await runStep("fsck-root", ctx)).toMatchObject({ partition: `${name}p3`, exitCode: 0 });
  });
});
