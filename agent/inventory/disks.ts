// Whole disks from /sys/block. Imports no schemas (types only), so the tailored agents that use it stay
// free of zod.
import { join } from "node:path";
import type { DiskInfo } from "../../protocol/index.js";
import { listDir, readText } from "./sysfs.js";

/** Whole disks: /sys/block minus loop, ram, zram, device-mapper and md (those are not hardware). */
export async function readDisks(root: string): Promise<DiskInfo[]> {
  const disks: DiskInfo[] = [];
  for (const name of await listDir(join(root, "sys/block"))) {
    if (/^(loop|ram|zram|dm-|md|sr|fd)/.test(name)) continue;
    const sectors = Number((await readText(join(root, "sys/block", name, "size"))) ?? "0");
    disks.push({ name, sizeBytes: sectors * 512 });
  }
  return disks;
}
