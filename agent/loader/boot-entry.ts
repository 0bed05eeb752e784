// The installed system's boot entry as its disk's boot configuration gives it (kernel, initrds, command
// line), for a plan's `reboot: kexec` (agent/loader/kexec.ts). It reads what images carry: syslinux and
// extlinux, Boot Loader Specification entries (systemd-boot's), and GRUB's first entry when its lines
// need no GRUB variable. Anything else gives no entry, and the machine reboots through its firmware.

export interface BootEntry {
  /** As the configuration names them: from the root of the filesystem that holds the configuration. */
  kernel: string;
  initrds: string[];
  cmdline: string;
}

export type BootConfigFormat = "bls" | "syslinux" | "grub";

/**
 * Where each format keeps its configuration on a filesystem (an ESP, a /boot or a root), in the order
 * they are tried: a BLS directory names the entries the machine boots; GRUB last, because on an ESP
 * Debian's grub.cfg is a stub that only loads the one on /boot (it has no `linux` line, so the search
 * goes on).
 */
export const BOOT_CONFIGS: readonly { path: string; format: BootConfigFormat }[] = [
  { path: "loader/entries", format: "bls" },
  { path: "boot/loader/entries", format: "bls" },
  { path: "syslinux.cfg", format: "syslinux" },
  { path: "syslinux/syslinux.cfg", format: "syslinux" },
  { path: "boot/syslinux/syslinux.cfg", format: "syslinux" },
  { path: "extlinux.conf", format: "syslinux" },
  { path: "extlinux/extlinux.conf", format: "syslinux" },
  { path: "boot/extlinux/extlinux.conf", format: "syslinux" },
  { path: "EFI/debian/grub.cfg", format: "grub" },
  { path: "EFI/BOOT/grub.cfg", format: "grub" },
  { path: "grub/grub.cfg", format: "grub" },
  { path: "boot/grub/grub.cfg", format: "grub" },
  { path: "grub2/grub.cfg", format: "grub" },
  { path: "boot/grub2/grub.cfg", format: "grub" },
];

function words(line: string): string[] {
  return line.trim().split(/\s+/).filter(Boolean);
}

/**
 * syslinux.cfg or extlinux.conf: the entry DEFAULT names, else the first LABEL. APPEND's `initrd=a,b`
 * is syslinux's own option, not the kernel's: it becomes the initrds.
 */
export function parseSyslinux(text: string): BootEntry | undefined {
  const labels: { name: string; kernel?: string; initrd?: string; append: string[] }[] = [];
  let defaultLabel: string | undefined;
  for (const line of text.split("\n")) {
    const [keyword = "", ...rest] = words(line);
    const label = labels.at(-1);
    switch (keyword.toUpperCase()) {
      case "DEFAULT":
        defaultLabel = rest.join(" ");
        break;
      case "LABEL":
        labels.push({ name: rest.join(" "), append: [] });
        break;
      case "KERNEL":
      case "LINUX":
        if (label && rest[0] !== undefined) label.kernel = rest[0];
        break;
      case "INITRD":
        if (label && rest[0] !== undefined) label.initrd = rest[0];
        break;
      case "APPEND":
        // "APPEND -": no options at all.
        if (label) label.append = rest.length === 1 && rest[0] === "-" ? [] : rest;
        break;
    }
  }
  const chosen = labels.find((l) => l.name === defaultLabel) ?? labels[0];
  if (!chosen?.kernel) return undefined;
  const initrdOption = chosen.append.find((word) => word.startsWith("initrd="))?.slice("initrd=".length);
  return {
    kernel: chosen.kernel,
    initrds: (chosen.initrd ?? initrdOption ?? "").split(",").filter(Boolean),
    cmdline: chosen.append.filter((word) => !word.startsWith("initrd=")).join(" "),
  };
}

/** GRUB's `(hd0,gpt2)/boot/vmlinuz` → `/boot/vmlinuz`: the path is looked up on the disk's filesystems. */
function withoutGrubDevice(path: string): string {
  return path.replace(/^\([^)]*\)/, "");
}

/**
 * The first `linux` line of a grub.cfg (its first menu entry, GRUB's default unless `set default` names
 * another) with the `initrd` lines that follow it. A default from a variable (`${next_entry}`,
 * `${saved_entry}`: kept in grubenv, which Debian's grub.cfg reads before its `set default="0"`) is read
 * as the first entry. A path built from a GRUB variable cannot be read here; a variable among the
 * options (Ubuntu's `$vt_handoff`) is dropped.
 */
export function parseGrub(text: string): BootEntry | undefined {
  const defaults = [...text.matchAll(/^\s*set\s+default=["']?([^"'\s]*)/gm)].map((match) => match[1] ?? "");
  if (defaults.some((value) => !value.startsWith("$") && value !== "0")) return undefined;
  let entry: BootEntry | undefined;
  for (const line of text.split("\n")) {
    const [keyword = "", ...args] = words(line);
    if (/^linux(efi|16)?$/.test(keyword)) {
      if (entry) break;
      const [kernel, ...options] = args;
      if (kernel === undefined || kernel.includes("$")) return undefined;
      entry = {
        kernel: withoutGrubDevice(kernel),
        initrds: [],
        cmdline: options.filter((option) => !option.startsWith("$")).join(" "),
      };
    } else if (/^initrd(efi|16)?$/.test(keyword) && entry) {
      if (args.some((path) => path.includes("$"))) return undefined;
      entry.initrds.push(...args.map(withoutGrubDevice));
    } else if (keyword === "}" && entry) break;
  }
  return entry;
}

/** One Boot Loader Specification entry (loader/entries/*.conf): `linux`, `initrd` lines, `options` lines. */
export function parseBlsEntry(text: string): BootEntry | undefined {
  let kernel: string | undefined;
  const initrds: string[] = [];
  const options: string[] = [];
  for (const line of text.split("\n")) {
    const [key = "", ...rest] = words(line);
    if (key === "linux") kernel = rest[0];
    else if (key === "initrd") initrds.push(...rest);
    else if (key === "options") options.push(...rest);
  }
  return kernel === undefined ? undefined : { kernel, initrds, cmdline: options.join(" ") };
}

/** The BLS entries in the order a boot menu offers them: newest version first (names compared as versions). */
export function blsEntriesNewestFirst(names: readonly string[]): string[] {
  return names
    .filter((name) => name.endsWith(".conf"))
    .sort((a, b) => b.localeCompare(a, "en", { numeric: true }));
}

/**
 * The filesystem a partition holds, from its first 4 KiB (pure): the ones an image's boot files live
 * on and the loader can mount. undefined: none of them (a raw partition, swap, the marker).
 */
export function filesystemOf(head: Uint8Array): "vfat" | "ext4" | "xfs" | undefined {
  const ascii = (from: number, length: number) =>
    Buffer.from(head.subarray(from, from + length)).toString("latin1");
  // ext2/3/4: the superblock at 1024, its magic 0xEF53 at offset 56 (the ext4 driver mounts all three).
  if (head.length >= 0x43a && head[0x438] === 0x53 && head[0x439] === 0xef) return "ext4";
  if (ascii(0, 4) === "XFSB") return "xfs";
  // FAT: the boot sector's signature, and its type string where FAT12/16 or FAT32 keep it.
  if (head[510] === 0x55 && head[511] === 0xaa && (ascii(0x36, 3) === "FAT" || ascii(0x52, 5) === "FAT32"))
    return "vfat";
  return undefined;
}
