// Builds the rescue media: one hybrid ISO (Debian's xorriso) that boots as a CD and, written with dd, as
// a USB disk, on BIOS (isolinux, isohybrid MBR) and UEFI (an appended EFI system partition with shim +
// Debian's signed GRUB, so Secure Boot accepts it: grub-mkrescue's unsigned GRUB is refused there). The
// ESP also holds bootwright.cfg (the server the loader talks to), which a technician can edit on any
// computer. The kernel and initramfs are in the ISO9660 tree, read by isolinux and by GRUB (its iso9660
// module): the ESP must stay under 32 MiB, as El Torito counts its size in 16 bits of 512-byte sectors and
// OVMF takes a USB disk's El Torito entries over its MBR (a larger ESP is cut short and does not mount).
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { MEDIA_CMDLINE_FLAG, MEDIA_LABEL, MEDIA_SETTINGS_FILE } from "../../protocol/index.js";
import { run } from "../os-image/run.js";

/** Debian's isolinux package: the hybrid MBR and the El Torito boot image. */
export const ISOHYBRID_MBR = "/usr/lib/ISOLINUX/isohdpfx.bin";
export const ISOLINUX_BIN = "/usr/lib/ISOLINUX/isolinux.bin";
/** syslinux-common: isolinux's second stage, which must sit beside isolinux.bin. */
export const LDLINUX_C32 = "/usr/lib/syslinux/modules/bios/ldlinux.c32";

export interface MediaFile {
  /** Where it goes on the media, e.g. "offline/image.raw.zst". */
  name: string;
  source: string;
}

export interface MediaBuildInputs {
  kernel: string;
  initramfs: string;
  /** shim-signed's shimx64.efi.signed: the first stage under Secure Boot (signed by Microsoft). */
  shim: string;
  /** grub-efi-amd64-signed's grubx64.efi.signed (the disk GRUB, signed by Debian). */
  grub: string;
  /** The settings file's text (protocol/media.ts renderMediaSettings). */
  settingsText: string;
  /** Kernel parameters besides the media flag (console=…). */
  kernelArgs: string;
  /** More files for the ISO9660 tree (offline media: the image's blob). */
  extraFiles?: readonly MediaFile[];
  /** More files for the ESP, by text (offline media: its manifest); the ESP then keeps room for reports. */
  espFiles?: readonly { name: string; text: string }[];
  out: string;
}

/**
 * The file in the ISO9660 tree that Debian's signed GRUB searches for when its built-in prefix
 * (/EFI/debian) is not on the device it started from, as on Debian's own CDs: it then reads
 * /boot/grub/grub.cfg from the filesystem holding it.
 */
export const MEDIA_MARKER = "/.disk/info";

/** The kernel command line of both boot entries: the settings are on the media, so only the flag is here. */
export function mediaCmdline(kernelArgs: string): string {
  return `${kernelArgs} ${MEDIA_CMDLINE_FLAG} bootwright.path=media`.trim();
}

export function isolinuxCfg(cmdline: string): string {
  return [
    "# bootwright rescue media, BIOS: isolinux reads the kernel and initramfs from the ISO9660 tree.",
    "DEFAULT bootwright",
    "PROMPT 0",
    "TIMEOUT 0",
    "LABEL bootwright",
    "  KERNEL /boot/vmlinuz",
    "  INITRD /boot/initramfs.img",
    `  APPEND ${cmdline}`,
    "",
  ].join("\n");
}

export function grubCfg(cmdline: string): string {
  return [
    "# bootwright rescue media, UEFI: shim → Debian's signed GRUB, which reads this from the ESP and the",
    "# kernel and initramfs from the ISO9660 tree.",
    "set timeout=0",
    `search --no-floppy --file --set=root ${MEDIA_MARKER}`,
    'echo "bootwright: loading the loader from the rescue media"',
    `linux /boot/vmlinuz ${cmdline}`,
    "initrd /boot/initramfs.img",
    "boot",
    "",
  ].join("\n");
}

const MiB = 2 ** 20;

/** FAT size for these files: their sum plus 10 % and 2 MiB for FAT tables and directories, whole MiB. */
export function espSizeMiB(fileBytes: readonly number[]): number {
  const total = fileBytes.reduce((sum, n) => sum + n, 0);
  return Math.ceil((total * 1.1 + 2 * MiB) / MiB);
}

/** Free space left on an offline media's ESP for the reports: a few hundred machines' runs. */
const REPORT_ROOM_BYTES = 8 * MiB;

/** El Torito's sector count is 16 bits of 512-byte sectors: a larger ESP is cut short on a CD. */
const ESP_MAX_MiB = 31;

/** Copies `files` (destination → source) into the FAT image with mtools, making their folders. */
async function fillFat(image: string, files: ReadonlyMap<string, string>): Promise<void> {
  const dirs = new Set<string>();
  for (const dest of files.keys()) {
    for (let dir = dirname(dest); dir !== "." && dir !== "/"; dir = dirname(dir)) dirs.add(dir);
  }
  for (const dir of [...dirs].sort()) await run("mmd", ["-i", image, `::/${dir}`]);
  for (const [dest, source] of files) await run("mcopy", ["-i", image, "-o", source, `::/${dest}`]);
}

/**
 * Writes the ISO at `inputs.out` atomically (temp name, fsync, rename): a failed build
 * leaves no half image behind. Returns the ISO's size in bytes.
 */
export async function buildMediaIso(inputs: MediaBuildInputs): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), "bootwright-media-"));
  const temp = join(dirname(inputs.out), `.${basename(inputs.out)}.tmp-${process.pid}`);
  try {
    const cmdline = mediaCmdline(inputs.kernelArgs);
    const settings = join(work, MEDIA_SETTINGS_FILE);
    writeFileSync(settings, inputs.settingsText);
    const grubConfig = join(work, "grub.cfg");
    writeFileSync(grubConfig, grubCfg(cmdline));

    // The ESP. Debian's signed GRUB looks for its config in /EFI/debian (its built-in prefix), else
    // finds MEDIA_MARKER and reads /boot/grub/grub.cfg from the ISO9660 tree.
    const espFiles = new Map<string, string>([
      ["EFI/BOOT/BOOTX64.EFI", inputs.shim],
      ["EFI/BOOT/grubx64.efi", inputs.grub],
      ["EFI/debian/grub.cfg", grubConfig],
      [MEDIA_SETTINGS_FILE, settings],
    ]);
    for (const [index, file] of (inputs.espFiles ?? []).entries()) {
      const source = join(work, `esp-file-${String(index)}`);
      writeFileSync(source, file.text);
      espFiles.set(file.name, source);
    }
    const esp = join(work, "esp.img");
    // Offline media: room for the loader's reports (reports/<run>/report.json, tens of KiB each).
    const reportRoom = inputs.espFiles?.length ? REPORT_ROOM_BYTES : 0;
    const sizeMiB = espSizeMiB([...[...espFiles.values()].map((file) => statSync(file).size), reportRoom]);
    if (sizeMiB > ESP_MAX_MiB)
      throw new Error(`the ESP would need ${String(sizeMiB)} MiB (at most ${String(ESP_MAX_MiB)})`);
    writeFileSync(esp, "");
    await run("truncate", ["-s", `${String(sizeMiB)}M`, esp]);
    // The label is how the loader finds the media's settings.
    await run("mkfs.fat", ["-n", MEDIA_LABEL, esp]);
    await fillFat(esp, espFiles);

    // The ISO9660 tree: isolinux, the kernel and initramfs both boot loaders read, the marker GRUB looks
    // for, and the offline media's files.
    const tree = join(work, "iso");
    mkdirSync(join(tree, "isolinux"), { recursive: true });
    mkdirSync(join(tree, "boot/grub"), { recursive: true });
    mkdirSync(join(tree, ".disk"), { recursive: true });
    writeFileSync(join(tree, "boot/grub/grub.cfg"), grubCfg(cmdline));
    writeFileSync(join(tree, "isolinux/isolinux.bin"), readFileSync(ISOLINUX_BIN));
    writeFileSync(join(tree, "isolinux/ldlinux.c32"), readFileSync(LDLINUX_C32));
    writeFileSync(join(tree, "isolinux/isolinux.cfg"), isolinuxCfg(cmdline));
    await run("cp", [inputs.kernel, join(tree, "boot/vmlinuz")]);
    await run("cp", [inputs.initramfs, join(tree, "boot/initramfs.img")]);
    writeFileSync(join(tree, MEDIA_MARKER), "bootwright rescue media\n");
    for (const file of inputs.extraFiles ?? []) {
      mkdirSync(dirname(join(tree, file.name)), { recursive: true });
      await run("cp", [file.source, join(tree, file.name)]);
    }

    // Debian live-build's hybrid layout: El Torito BIOS (isolinux) + El Torito EFI pointing at the
    // appended partition, an MBR that boots isolinux from a USB disk, and a GPT naming the ESP.
    await run("xorriso", [
      "-as",
      "mkisofs",
      "-o",
      temp,
      "-V",
      "BOOTWRIGHT",
      "-J",
      "-R",
      "-isohybrid-mbr",
      ISOHYBRID_MBR,
      "-c",
      "isolinux/boot.cat",
      "-b",
      "isolinux/isolinux.bin",
      "-no-emul-boot",
      "-boot-load-size",
      "4",
      "-boot-info-table",
      "-eltorito-alt-boot",
      "-e",
      "--interval:appended_partition_2:all::",
      "-no-emul-boot",
      "-isohybrid-gpt-basdat",
      "-append_partition",
      "2",
      "0xef",
      esp,
      tree,
    ]);
    const fd = openSync(temp, "r+");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, inputs.out);
    return statSync(inputs.out).size;
  } finally {
    rmSync(temp, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
