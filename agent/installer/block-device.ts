// The block device an install writes to (the RAID array when the plan has one, else the first disk),
// with its size and sector size from sysfs, and the kernel's view of its partitions.
import { open, realpath } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { AgentPlan } from "../../protocol/index.js";
import type { DiskWrite } from "./gpt-write.js";
import { readDisks } from "../inventory/disks.js";
import { exists, listDir, readText } from "../inventory/sysfs.js";
import { RAID_DEVICE } from "./mdadm.js";
import type { Exec } from "./plugin.js";

export interface BlockTarget {
  /** Path under the root, e.g. /dev/md/bootwright or /dev/vda. */
  path: string;
  /** What reports call it: md/bootwright, vda. */
  name: string;
  /** The kernel's name, as in /sys/block: md127, vda. */
  kernelName: string;
  sizeBytes: number;
  sectorBytes: number;
}

/** Size and sector size of a whole block device, from /sys/block/<name> (stat() says 0 for a device). */
async function describe(root: string, path: string, name: string): Promise<BlockTarget> {
  const kernelName = basename(await realpath(path));
  const sys = join(root, "sys/block", kernelName);
  const sectors = Number((await readText(join(sys, "size"))) ?? "0");
  const sectorBytes = Number((await readText(join(sys, "queue/logical_block_size"))) ?? "512") || 512;
  // /sys/block/*/size counts 512-byte units whatever the logical block size.
  return { path, name, kernelName, sizeBytes: sectors * 512, sectorBytes };
}

/** The RAID array when the plan has one, else the machine's first disk. */
export async function installTarget(root: string, plan: AgentPlan): Promise<BlockTarget> {
  if (plan.raid) {
    const path = join(root, "dev", RAID_DEVICE);
    if (!(await exists(path)))
      throw new Error(`the plan has RAID but ${path} is missing (did the mdadm-raid step run?)`);
    return describe(root, path, RAID_DEVICE);
  }
  const first = (await readDisks(root))[0];
  if (!first) throw new Error("no disk to install onto");
  return describe(root, join(root, "dev", first.name), first.name);
}

/** Asks the kernel to read the device's partition table again (BLKRRPART, through busybox blockdev). */
export async function rereadPartitions(target: BlockTarget, exec: Exec, signal: AbortSignal): Promise<void> {
  await exec("blockdev", ["--rereadpt", target.path], { timeoutMs: 30_000, signal });
}

/**
 * Writes back and forgets the whole disk's page cache (BLKFLSBUF, through busybox blockdev). A disk and
 * each of its partitions are cached apart: after a filesystem on vda3 changed, reading /dev/vda can still
 * return the pages the image stream left in vda's cache. Run it before reading the whole disk back.
 */
export async function forgetCachedPages(target: BlockTarget, exec: Exec, signal: AbortSignal): Promise<void> {
  await exec("blockdev", ["--flushbufs", target.path], { timeoutMs: 120_000, signal });
}

/**
 * The device node of partition `number` of `target` once the kernel shows it: the name comes from
 * sysfs (vda3, md127p3, nvme0n1p3), the node from devtmpfs, both a moment after a re-read.
 */
export async function partitionDevice(
  root: string,
  target: BlockTarget,
  number: number,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const entry of await listDir(join(root, "sys/block", target.kernelName))) {
      if (!entry.startsWith(target.kernelName)) continue;
      const partition = await readText(join(root, "sys/block", target.kernelName, entry, "partition"));
      const node = join(root, "dev", entry);
      if (partition === String(number) && (await exists(node))) return node;
    }
    if (Date.now() > deadline)
      throw new Error(`partition ${number} of ${target.name} did not appear within ${timeoutMs} ms`);
    await delay(200);
  }
}

/** `bytes` bytes of `path` from `offset`: all of them, or an error naming where it stopped. */
export async function readRange(path: string, offset: number, bytes: number): Promise<Buffer> {
  const buffer = Buffer.alloc(bytes);
  const handle = await open(path, "r");
  try {
    let done = 0;
    while (done < bytes) {
      const { bytesRead } = await handle.read(buffer, done, bytes - done, offset + done);
      if (bytesRead === 0)
        throw new Error(`${path}: end of device at ${offset + done}, wanted ${bytes} bytes from ${offset}`);
      done += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

/** Writes each range at its offset on the target, then fsyncs it (a partition table's copies). */
export async function writeRanges(target: BlockTarget, writes: readonly DiskWrite[]): Promise<void> {
  const handle = await open(target.path, "r+");
  try {
    for (const w of writes) {
      const { bytesWritten } = await handle.write(w.bytes, 0, w.bytes.length, w.offset);
      if (bytesWritten !== w.bytes.length)
        throw new Error(
          `${target.name}: short write of the ${w.what} (${bytesWritten} of ${w.bytes.length} bytes)`,
        );
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}
