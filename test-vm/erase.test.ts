// Release and erase on real VMs (issue 18), checked on the host's disk files afterwards:
// - quick: a VM whose first disk carries the tiny OS image (GPT, ESP, marker) and whose second disk an
//   ext4 filesystem → no partition table and no signature left on either (blkid, sfdisk);
// - secure: a VM with a QEMU NVMe disk → NVMe Format with secure erase (initramfs/nvme-format.c);
// - full: a VM with a small disk of random bytes → every byte zero.
// The three run side by side; each is released through the API as an operator would.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildOsImage, type BuiltOsImage } from "../build-scripts/build-os-image.js";
import { run } from "../build-scripts/os-image/run.js";
import type { RunningServer } from "../server/server.js";
import { jsonRequest } from "../server/test-support.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { startTestServer, waitForMachine } from "./test-server.js";

let accel: Accelerator;
let dir: string;
let server: RunningServer | undefined;
let tiny: BuiltOsImage;
const vms: Vm[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  tiny = await buildOsImage({ kind: "tiny" });
  dir = mkdtempSync(join(tmpdir(), "bootwright-erase-"));
  server = await startTestServer(join(dir, "server"));
}, 10 * 60_000);

afterAll(async () => {
  await Promise.all(vms.map((vm) => vm.stop()));
  await server?.close();
  if (!process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

function blankDisk(path: string, mib: number): string {
  writeFileSync(path, "");
  truncateSync(path, mib * 2 ** 20);
  return path;
}

/** What blkid finds on a disk file (at `offset` when given): empty when there is no signature. */
function signatures(path: string, offset?: number): string {
  const args = ["-p", ...(offset === undefined ? [] : ["-O", String(offset)]), path];
  const found = spawnSync("blkid", args, { encoding: "utf8" });
  return found.status === 2 ? "" : `${found.stdout}${found.stderr}`.trim();
}

function hasPartitionTable(path: string): boolean {
  return spawnSync("sfdisk", ["--dump", path], { encoding: "utf8" }).status === 0;
}

function allZero(path: string, bytes: number): boolean {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(2 ** 20);
    for (let offset = 0; offset < bytes; offset += buffer.length) {
      const n = readSync(fd, buffer, 0, buffer.length, offset);
      if (buffer.subarray(0, n).some((byte) => byte !== 0)) return false;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Netboots a VM, waits for its inventory, releases it with `erase`, and waits until it is released. */
async function release(
  name: string,
  id: string,
  mac: string,
  erase: "quick" | "full" | "secure",
  disks: string[],
): Promise<void> {
  if (!server) throw new Error("the server did not start");
  const running = server;
  const vm = Vm.start({
    name,
    workDir: join(dir, name),
    accel,
    firmware: "bios",
    boot: { kind: "network", bootfileUrl: `${running.advertiseUrl}/boot.ipxe` },
    mac,
    uuid: id,
    smbios: [`type=1,manufacturer=Acme,product=ERASE-1,serial=${name}`],
    extraArgs: disks.flatMap((disk, i) => {
      const nvme = disk.endsWith(".nvme");
      return [
        "-drive",
        `file=${disk},if=none,id=d${i},format=raw`,
        "-device",
        nvme ? `nvme,serial=bw${i}${name.length},drive=d${i}` : `virtio-blk-pci,drive=d${i}`,
      ];
    }),
  });
  vms.push(vm);
  try {
    await waitForMachine(running, id, (m) => m?.category === "inventoried", 240_000);
    const asked = await jsonRequest(`${running.url}/v1/machines/${id}/release`, "POST", { erase });
    expect(asked.status).toBe(200);
    await waitForMachine(running, id, (m) => m?.category === "released" || m?.category === "failed", 240_000);
    const machine = await running.store.getMachine(id);
    if (machine?.category !== "released")
      throw new Error(
        `${name} ended ${String(machine?.category)}: ${JSON.stringify((await running.store.machineLog(id)).slice(-3))}`,
      );
  } catch (err) {
    console.log(`[${name}] console tail:\n${vm.console().split("\n").slice(-30).join("\n")}`);
    throw err;
  } finally {
    await vm.stop();
  }
}

async function erasedDisks(id: string): Promise<Record<string, unknown>[]> {
  if (!server) throw new Error("the server did not start");
  return (await server.store.machineLog(id)).filter((e) => e.event === "disk-erased").map((e) => e.data);
}

it("quick, secure and full erases leave nothing readable, each checked on the host", async () => {
  // quick: the tiny image on the first disk, an ext4 filesystem on the second.
  const imageDisk = join(dir, "quick-os.raw");
  await run("zstd", ["-d", "-q", "-f", "-o", imageDisk, tiny.paths.zst]);
  const dataDisk = blankDisk(join(dir, "quick-data.raw"), 64);
  execFileSync("mkfs.ext4", ["-q", "-F", dataDisk]);
  const esp = tiny.manifest.partitions.find((p) => p.name === "esp");
  expect(hasPartitionTable(imageDisk)).toBe(true);
  expect(signatures(imageDisk, esp?.startBytes)).toMatch(/vfat/);
  expect(signatures(dataDisk)).toMatch(/ext4/);
  // secure: an NVMe disk with ext4 on it.
  const nvmeDisk = blankDisk(join(dir, "secure.nvme"), 64);
  execFileSync("mkfs.ext4", ["-q", "-F", nvmeDisk]);
  // full: random bytes.
  const fullDisk = join(dir, "full.raw");
  writeFileSync(fullDisk, randomBytes(32 * 2 ** 20));

  const ids = {
    quick: "0e0c8a6a-6f5f-4c43-9d57-0000000000f1",
    secure: "0e0c8a6a-6f5f-4c43-9d57-0000000000f2",
    full: "0e0c8a6a-6f5f-4c43-9d57-0000000000f3",
  };
  await Promise.all([
    release("erase-quick", ids.quick, "52:54:00:ee:00:01", "quick", [imageDisk, dataDisk]),
    release("erase-secure", ids.secure, "52:54:00:ee:00:02", "secure", [nvmeDisk]),
    release("erase-full", ids.full, "52:54:00:ee:00:03", "full", [fullDisk]),
  ]);

  for (const disk of [imageDisk, dataDisk]) {
    expect(hasPartitionTable(disk)).toBe(false);
    expect(signatures(disk)).toBe("");
  }
  for (const partition of tiny.manifest.partitions)
    expect(signatures(imageDisk, partition.startBytes)).toBe("");
  expect((await erasedDisks(ids.quick)).map((d) => [d.name, d.mode])).toEqual([
    ["vda", "quick"],
    ["vdb", "quick"],
  ]);

  expect(signatures(nvmeDisk)).toBe("");
  expect(await erasedDisks(ids.secure)).toEqual([
    expect.objectContaining({ name: "nvme0n1", mode: "secure", method: "nvme-format ses=1" }),
  ]);

  expect(allZero(fullDisk, 32 * 2 ** 20)).toBe(true);
  expect(await erasedDisks(ids.full)).toEqual([
    expect.objectContaining({ name: "vda", mode: "full", method: "zeros", verifiedBytes: 32 * 2 ** 20 }),
  ]);
}, 600_000);
