// Shared by the boot-area and repair tests: a real GPT disk image file laid out by sfdisk (util-linux,
// apt: fdisk), with boot code in its MBR and, optionally, an ext4 root made by mke2fs, and a fake root
// (sys/block/<name>, dev/<name> as the file) that the steps read it through.
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

const MiB = 2 ** 20;

export interface TestDisk {
  path: string;
  sizeBytes: number;
  /** The root filesystem as its own file (a copy of partition 3's bytes), when the disk has one. */
  rootFs: string | null;
  /** 512-byte sector where the root partition starts. */
  rootStartSector: number | null;
}

/** 440 bytes standing in for boot code (gptmbr.bin, GRUB's boot.img): recognisable, not zeros. */
export function bootCode(): Buffer {
  return Buffer.from(Array.from({ length: 440 }, (_, i) => (i * 37 + 11) & 0xff));
}

/**
 * A `sizeMiB` GPT disk: esp (8 MiB at 1 MiB), bootwright-marker (1 MiB), and with `root` an ext4
 * partition named root over the rest (less the backup GPT).
 */
export function makeGptDisk(
  dir: string,
  options: { sizeMiB: number; root: boolean; name?: string },
): TestDisk {
  const path = join(dir, options.name ?? "disk.img");
  const sizeBytes = options.sizeMiB * MiB;
  closeSync(openSync(path, "w"));
  truncateSync(path, sizeBytes);
  const lines = [
    "label: gpt",
    "label-id: B0077A1C-0D15-4A5E-8F00-0000000000F1",
    "unit: sectors",
    "",
    'start=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"',
    'start=18432, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="bootwright-marker"',
  ];
  const rootStart = 20480;
  const rootSectors = sizeBytes / 512 - rootStart - 34;
  if (options.root)
    lines.push(
      `start=${rootStart}, size=${rootSectors}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"`,
    );
  execFileSync("sfdisk", ["--quiet", "--no-reread", "--no-tell-kernel", path], {
    input: lines.join("\n") + "\n",
    stdio: ["pipe", "ignore", "pipe"],
  });
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, bootCode(), 0, 440, 0);
    let rootFs: string | null = null;
    if (options.root) {
      rootFs = join(dir, "root.ext4");
      closeSync(openSync(rootFs, "w"));
      truncateSync(rootFs, rootSectors * 512);
      execFileSync("mke2fs", ["-q", "-F", "-t", "ext4", "-L", "root", rootFs], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      writeSync(fd, readFileSync(rootFs), 0, rootSectors * 512, rootStart * 512);
    }
    return { path, sizeBytes, rootFs, rootStartSector: options.root ? rootStart : null };
  } finally {
    closeSync(fd);
  }
}

/**
 * A fake root holding `disk` as /dev/<name> (a copy of the file) with its /sys/block entry; with a
 * root filesystem, also the kernel's view of partition 3 (<name>3 with its start) and /dev/<name>3.
 */
export function fakeRoot(root: string, disk: TestDisk, name: string): string {
  const sys = join(root, "sys/block", name);
  mkdirSync(join(sys, "queue"), { recursive: true });
  mkdirSync(join(root, "dev"), { recursive: true });
  writeFileSync(join(sys, "size"), `${disk.sizeBytes / 512}\n`);
  writeFileSync(join(sys, "queue/logical_block_size"), "512\n");
  copyFileSync(disk.path, join(root, "dev", name));
  if (disk.rootFs !== null && disk.rootStartSector !== null) {
    mkdirSync(join(sys, `${name}3`), { recursive: true });
    writeFileSync(join(sys, `${name}3`, "partition"), "3\n");
    writeFileSync(join(sys, `${name}3`, "start"), `${disk.rootStartSector}\n`);
    copyFileSync(disk.rootFs, join(root, "dev", `${name}3`));
  }
  return join(root, "dev", name);
}
