// Assembles a whole-disk image without loop devices or mounts: a sparse file partitioned by sfdisk,
// a FAT32 ESP made by mkfs.fat + mtools (plus syslinux for BIOS), an ext4 root made by `mke2fs -d`,
// each built as its own file and copied in at its partition's offset.
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { type DiskLayout, MiB, sfdiskScript } from "./layout.js";
import { run, runText } from "./run.js";

/** syslinux's GPT boot code: finds the partition with the LegacyBIOSBootable attribute, runs its VBR. */
export const GPTMBR_BIN = "/usr/lib/syslinux/mbr/gptmbr.bin";
/** The MBR's boot code area; the partition table and signature that follow belong to sfdisk. */
const MBR_CODE_BYTES = 440;
const COPY_CHUNK = 4 * MiB;

export interface FileCopy {
  /** Host path of the file to copy. */
  src: string;
  /** Path inside the file system, `/`-separated, e.g. `EFI/BOOT/BOOTX64.EFI`. */
  dest: string;
}

/** Creates an empty sparse file of `sizeBytes`. */
export function sparseFile(path: string, sizeBytes: number): void {
  closeSync(openSync(path, "w"));
  truncateSync(path, sizeBytes);
}

/**
 * A FAT32 image holding `files`; with `syslinux`, also ldlinux.sys/ldlinux.c32 and syslinux's boot
 * sector (`syslinux --install` works on the image file through mtools: no mount).
 */
export async function makeFatImage(
  path: string,
  sizeBytes: number,
  files: readonly FileCopy[],
  options: { label: string; volumeId: string; syslinux: boolean },
): Promise<void> {
  if (sizeBytes % 1024 !== 0) throw new Error(`FAT image size ${sizeBytes} is not whole KiB`);
  // mkfs.fat -C refuses an existing file.
  rmSync(path, { force: true });
  await run("mkfs.fat", [
    "-F",
    "32",
    "-n",
    options.label,
    "-i",
    options.volumeId,
    "-C",
    path,
    String(sizeBytes / 1024),
  ]);
  const dirs = new Set<string>();
  for (const { dest } of files) {
    const parts = dest.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const dir of [...dirs].sort()) await run("mmd", ["-i", path, `::/${dir}`]);
  for (const { src, dest } of files) await run("mcopy", ["-i", path, "-o", src, `::/${dest}`]);
  if (options.syslinux) await run("syslinux", ["--install", path]);
}

/** Blocks of 4 KiB a tree will take as ext4: each file rounded up, one per directory and long symlink. */
async function treeBlocks(dir: string): Promise<{ blocks: number; inodes: number }> {
  const out = await runText("find", [dir, "-xdev", "-printf", "%y %s\\n"]);
  let blocks = 0;
  let inodes = 0;
  for (const line of out.split("\n")) {
    if (!line) continue;
    const [type, size] = line.split(" ");
    inodes++;
    const bytes = Number(size);
    if (type === "f") blocks += Math.ceil(bytes / 4096);
    else if (type === "d") blocks += Math.max(1, Math.ceil(bytes / 4096));
    // Symlinks up to 60 bytes live in the inode itself.
    else if (type === "l" && bytes >= 60) blocks += 1;
  }
  return { blocks, inodes };
}

/**
 * An ext4 image of `dir` sized to what it holds plus ~15% (and room for inodes and the journal),
 * rounded to whole MiB. Returns the image's size.
 */
export async function makeExt4Image(
  path: string,
  dir: string,
  options: { label: string; uuid: string },
): Promise<number> {
  const { blocks, inodes } = await treeBlocks(dir);
  const inodeCount = Math.ceil(inodes * 1.3) + 4096;
  // 256-byte inodes, a 16 MiB journal, ~2% for group descriptors and bitmaps, then 15% headroom.
  const needed = (blocks * 4096 + inodeCount * 256 + 16 * MiB) * 1.02 * 1.15;
  const sizeBytes = Math.ceil(needed / MiB) * MiB;
  sparseFile(path, sizeBytes);
  await run("mke2fs", [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-b",
    "4096",
    "-N",
    String(inodeCount),
    "-J",
    "size=16",
    // Root reserve is moot for a root file system that root writes; keep the headroom usable.
    "-m",
    "1",
    "-L",
    options.label,
    "-U",
    options.uuid,
    "-E",
    "root_owner=0:0",
    "-d",
    dir,
    path,
  ]);
  // Catches a mistake in the sizing before it reaches a guest.
  await run("e2fsck", ["-f", "-n", path]);
  return sizeBytes;
}

function isZero(buffer: Buffer, length: number): boolean {
  for (let i = 0; i < length; i++) if (buffer[i] !== 0) return false;
  return true;
}

/** Copies `src` into `dst` at `offset`, skipping all-zero chunks so the disk file stays sparse. */
export function copyInto(src: string, dst: string, offset: number, maxBytes: number): void {
  const size = statSync(src).size;
  if (size > maxBytes)
    throw new Error(`${src} (${size} bytes) does not fit its partition (${maxBytes} bytes)`);
  const input = openSync(src, "r");
  const output = openSync(dst, "r+");
  try {
    const buffer = Buffer.alloc(COPY_CHUNK);
    for (let pos = 0; pos < size;) {
      const n = readSync(input, buffer, 0, COPY_CHUNK, pos);
      if (n === 0) break;
      if (!isZero(buffer, n)) writeSync(output, buffer, 0, n, offset + pos);
      pos += n;
    }
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

/**
 * Writes a partitioned disk: GPT from `layout`, syslinux's gptmbr.bin as MBR boot code, and each
 * partition's content image (by partition name; partitions without one stay zero-filled).
 */
export async function assembleDisk(
  path: string,
  layout: DiskLayout,
  contents: ReadonlyMap<string, string>,
): Promise<void> {
  if (!existsSync(GPTMBR_BIN)) throw new Error(`${GPTMBR_BIN} is missing: install syslinux-common`);
  sparseFile(path, layout.sizeBytes);
  await run("sfdisk", ["--quiet", "--no-reread", "--no-tell-kernel", path], { input: sfdiskScript(layout) });
  const mbr = Buffer.alloc(MBR_CODE_BYTES);
  const fd = openSync(GPTMBR_BIN, "r");
  readSync(fd, mbr, 0, MBR_CODE_BYTES, 0);
  closeSync(fd);
  const disk = openSync(path, "r+");
  writeSync(disk, mbr, 0, MBR_CODE_BYTES, 0);
  closeSync(disk);
  for (const part of layout.partitions) {
    const image = contents.get(part.name);
    if (image) copyInto(image, path, part.startBytes, part.sizeBytes);
  }
  await verifyPartitions(path, layout);
}

/** Reads the table back with `sfdisk --json` and checks it is the layout we meant. */
async function verifyPartitions(path: string, layout: DiskLayout): Promise<void> {
  const table = JSON.parse(await runText("sfdisk", ["--json", path])) as {
    partitiontable?: { partitions?: { start?: number; size?: number; name?: string }[] };
  };
  const found = (table.partitiontable?.partitions ?? []).map(
    (p) => `${p.name}@${(p.start ?? 0) * 512}+${(p.size ?? 0) * 512}`,
  );
  const wanted = layout.partitions.map((p) => `${p.name}@${p.startBytes}+${p.sizeBytes}`);
  if (found.join(",") !== wanted.join(","))
    throw new Error(`${path}: partition table ${found.join(", ")} is not the layout ${wanted.join(", ")}`);
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => {
        resolve(hash.digest("hex"));
      });
  });
}

/** zstd -3 on all cores: ~10× faster than -19 for a few % more (vm-notes.md's measurements). */
export async function compress(raw: string, out: string): Promise<void> {
  await run("zstd", ["-3", "-T0", "-q", "-f", "-o", out, raw], { cwd: dirname(out) });
}
