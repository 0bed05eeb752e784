// A plan's `reboot: kexec`: the loader starts the installed system's kernel itself, through
// initramfs/kexec-boot (kexec_file_load), instead of a reboot through POST, option ROMs and iPXE. The
// kernel, initrds and command line are the ones the installed disk's own boot configuration names
// (agent/loader/boot-entry.ts), so the system boots as its boot loader would start it. The disk is the
// one whose bootwright marker the loader reads; its filesystems are mounted read-only, and unmounted
// before the jump.
import { mkdir, open, readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, posix } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { InstalledMarker } from "../../protocol/index.js";
import { readRange } from "../installer/block-device.js";
import { readDisks } from "../inventory/disks.js";
import { readInstalledMarker } from "../inventory/marker.js";
import { listDir, readText } from "../inventory/sysfs.js";
import { MOUNT_MODULES } from "../shared/mount-modules.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";
import {
  BOOT_CONFIGS,
  blsEntriesNewestFirst,
  filesystemOf,
  parseBlsEntry,
  parseGrub,
  parseSyslinux,
  type BootEntry,
} from "./boot-entry.js";

/** Built from initramfs/kexec-boot.c by build-scripts/build-initramfs.ts. */
export const KEXEC_BOOT = "/usr/lib/bootwright/kexec-boot";
const MOUNTS = "/run/bootwright/installed";
/** Several initrds (microcode first, as BLS entries list them) go to the kernel as one: cpio archives concatenate. */
const JOINED_INITRD = "/run/bootwright/kexec-initrd";
const OPTS = { timeoutMs: 60_000 };
/** What filesystemOf reads of a partition: every superblock it knows lies in the first 4 KiB. */
const SUPERBLOCK_BYTES = 4096;
/** How long the jump into an installed kernel waits for the server to hear of it. */
const ANNOUNCE_WAIT_MS = 3_000;
/** How long the partitions a re-read found may take to show in sysfs and /dev. */
const MARKER_WAIT_MS = 5_000;

/** What was loaded: where it came from, as the console and the step log say it. */
export interface LoadedKernel {
  partition: string;
  config: string;
  kernel: string;
  initrds: string[];
  cmdline: string;
  /** Every partition the loader mounted and searched, the one it loaded from among them. */
  searched: string[];
}

/** A filesystem of the installed disk, mounted read-only at `dir`. */
export interface Mounted {
  partition: string;
  dir: string;
}

/** The partitions of the disk that holds `partition`, in their order (vda1, vda2, … or nvme0n1p1, …). */
async function siblingPartitions(root: string, partition: string): Promise<string[]> {
  const disk = basename(dirname(await realpath(join(root, "sys/class/block", partition))));
  const found: [number, string][] = [];
  for (const entry of await listDir(join(root, "sys/block", disk))) {
    const number = await readText(join(root, "sys/block", disk, entry, "partition"));
    if (number !== null) found.push([Number(number), entry]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, name]) => name);
}

/**
 * The installed marker, once the kernel knows the partitions the install wrote: an image streamed onto
 * the whole disk brings its own partition table, which the kernel reads only when asked (BLKRRPART).
 */
async function installedMarker(root: string): Promise<InstalledMarker> {
  for (const disk of await readDisks(root))
    await run("blockdev", ["--rereadpt", join(root, "dev", disk.name)], OPTS).catch(() => undefined);
  const deadline = Date.now() + MARKER_WAIT_MS;
  for (;;) {
    const marker = await readInstalledMarker(root);
    if (marker) return marker;
    if (Date.now() > deadline)
      throw new Error("no disk carries a bootwright marker: nothing says which system is installed");
    await delay(200);
  }
}

/**
 * Mounts every filesystem of the installed disk read-only (the marker and raw partitions are skipped);
 * one that does not mount is noted, and the others are still searched.
 */
async function mountInstalledDisk(root: string): Promise<{ mounted: Mounted[]; failed: string[] }> {
  const marker = await installedMarker(root);
  const mounted: Mounted[] = [];
  const failed: string[] = [];
  for (const partition of await siblingPartitions(root, marker.partition)) {
    const device = join(root, "dev", partition);
    // A partition too small for a superblock, or unreadable, holds nothing to mount.
    const type = filesystemOf(await readRange(device, 0, SUPERBLOCK_BYTES).catch(() => new Uint8Array()));
    if (!type) continue;
    const dir = join(MOUNTS, partition);
    try {
      await mkdir(dir, { recursive: true });
      // busybox's modprobe answers for built-in modules too; a module the kernel lacks shows at mount.
      await run("modprobe", ["-q", "-a", ...MOUNT_MODULES[type]], OPTS).catch(() => undefined);
      await run("mount", ["-t", type, "-o", "ro", device, dir], OPTS);
      mounted.push({ partition, dir });
    } catch (err) {
      failed.push(`${partition} (${type}): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { mounted, failed };
}

async function unmount(mounted: readonly Mounted[]): Promise<void> {
  for (const { dir } of [...mounted].reverse()) await run("umount", [dir], OPTS).catch(() => undefined);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/**
 * A path the configuration names, on the filesystem that holds it, else on another of the disk's (a
 * separate /boot): relative paths are from the configuration's directory, as syslinux reads them.
 */
async function locate(
  path: string,
  configDir: string,
  home: Mounted,
  all: readonly Mounted[],
): Promise<string | undefined> {
  const inside = posix.isAbsolute(path) ? path : posix.join("/", configDir, path);
  for (const fs of [home, ...all.filter((m) => m !== home)]) {
    const candidate = join(fs.dir, inside);
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}

/** The configurations one filesystem holds, each as the entry it gives (BLS: every entry, newest first). */
async function entriesOn(fs: Mounted): Promise<{ config: string; entry: BootEntry }[]> {
  const found: { config: string; entry: BootEntry }[] = [];
  for (const { path, format } of BOOT_CONFIGS) {
    if (format === "bls") {
      const names = await readdir(join(fs.dir, path)).catch(() => []);
      for (const name of blsEntriesNewestFirst(names)) {
        const entry = parseBlsEntry(await readFile(join(fs.dir, path, name), "utf8"));
        if (entry) found.push({ config: posix.join(path, name), entry });
      }
      continue;
    }
    const text = await readFile(join(fs.dir, path), "utf8").catch(() => null);
    const entry = text === null ? undefined : format === "syslinux" ? parseSyslinux(text) : parseGrub(text);
    if (entry) found.push({ config: path, entry });
  }
  return found;
}

/** The first entry whose kernel and initrds are all there, with their paths under the mounts. */
export async function firstBootable(
  mounted: readonly Mounted[],
  failed: readonly string[],
): Promise<Omit<LoadedKernel, "searched"> & { files: string[] }> {
  const tried: string[] = [];
  for (const fs of mounted)
    for (const { config, entry } of await entriesOn(fs)) {
      const configDir = posix.dirname(config);
      const files = await Promise.all(
        [entry.kernel, ...entry.initrds].map((path) => locate(path, configDir, fs, mounted)),
      );
      const missing = [entry.kernel, ...entry.initrds].filter((_, i) => files[i] === undefined);
      if (missing.length === 0)
        return { partition: fs.partition, config, ...entry, files: files.filter((f) => f !== undefined) };
      tried.push(`${fs.partition}:${config} names ${missing.join(", ")}, which is not there`);
    }
  const reasons =
    tried.length > 0
      ? `no boot entry of the installed disk is complete: ${tried.join("; ")}`
      : `the installed disk's filesystems (${mounted.map((m) => m.partition).join(", ") || "none mounted"}) hold no boot configuration the loader reads (syslinux, extlinux, BLS entries, GRUB)`;
  throw new Error(failed.length > 0 ? `${reasons}; not mounted: ${failed.join("; ")}` : reasons);
}

async function joinInitrds(paths: readonly string[]): Promise<string> {
  await mkdir(dirname(JOINED_INITRD), { recursive: true });
  const handle = await open(JOINED_INITRD, "w");
  try {
    for (const path of paths) await handle.write(await readFile(path));
  } finally {
    await handle.close();
  }
  return JOINED_INITRD;
}

/**
 * Loads the installed system's kernel for the jump (kexec-boot load), then unmounts the disk. Throws
 * with the reason when it cannot: no marker, no boot entry it reads, the kernel refused the image.
 */
export async function loadInstalledKernel(root: string): Promise<LoadedKernel> {
  const { mounted, failed } = await mountInstalledDisk(root);
  try {
    const { files, ...loaded } = await firstBootable(mounted, failed);
    const [kernel = "", ...initrds] = files;
    const initrd =
      initrds.length === 0 ? "-" : initrds.length === 1 ? (initrds[0] ?? "-") : await joinInitrds(initrds);
    await run(KEXEC_BOOT, ["load", kernel, initrd, loaded.cmdline], OPTS);
    return { ...loaded, searched: mounted.map((m) => m.partition) };
  } finally {
    await unmount(mounted);
  }
}

/** Jumps into the loaded kernel (kexec-boot exec syncs first). Returns only by throwing: nothing was loaded. */
async function execLoadedKernel(): Promise<never> {
  await run(KEXEC_BOOT, ["exec"], OPTS);
  throw new Error("kexec-boot exec returned without starting the kernel");
}

/** The console's and the step log's words for what was loaded. */
export function describeLoaded(loaded: LoadedKernel): Record<string, string> {
  return { ...loaded, initrds: loaded.initrds.join(","), searched: loaded.searched.join(",") };
}

/**
 * Starts the installed system's kernel. Returns only when it cannot, having said why on the console:
 * the caller then reboots through the firmware. `announce` tells the server first; the jump waits for
 * it at most ANNOUNCE_WAIT_MS.
 */
export async function kexecIntoInstalled(
  root: string,
  announce: (loaded: LoadedKernel) => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  try {
    const loaded = await loadInstalledKernel(root);
    say("ok", "starting the installed kernel (kexec)", describeLoaded(loaded));
    await Promise.race([announce(loaded).catch(() => undefined), delay(ANNOUNCE_WAIT_MS)]);
    await execLoadedKernel();
  } catch (err) {
    say("warn", "kexec not possible: rebooting through the firmware", {
      reason: err instanceof Error ? err.message : String(err),
    });
  }
}
