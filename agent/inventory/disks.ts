// Whole disks from /sys/block. Imports no schemas (types only), so the tailored agents that use it stay
// free of zod.
import { join } from "node:path";
import type { DiskInfo } from "../../protocol/index.js";
import { listDir, readText } from "./sysfs.js";

/**
 * Where the loader notes the rescue media it booted from (agent/loader/boot-media.ts): a USB stick is a
 * disk to the kernel, but not one of the machine's, and never an install target.
 */
export const BOOT_MEDIA_NOTE = "run/bootwright/boot-media";

/**
 * Whole disks: /sys/block minus loop, ram, zram, device-mapper and md (those are not hardware), and the
 * rescue media the machine booted from.
 */
export async function readDisks(root: string): Promise<DiskInfo[]> {
  const disks: DiskInfo[] = [];
  const bootMedia = await readText(join(root, BOOT_MEDIA_NOTE));
  for (const name of await listDir(join(root, "sys/block"))) {
    if (/^(loop|ram|zram|dm-|md|sr|fd)/.test(name) || name === bootMedia) continue;
    const sectors = Number((await readText(join(root, "sys/block", name, "size"))) ?? "0");
    disks.push({ name, sizeBytes: sectors * 512 });
  }
  return disks;
}
