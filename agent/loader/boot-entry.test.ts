import { describe, expect, it } from "vitest";
import {
  blsEntriesNewestFirst,
  filesystemOf,
  parseBlsEntry,
  parseGrub,
  parseSyslinux,
} from "./boot-entry.js";

describe("parseSyslinux", () => {
  it("takes the entry DEFAULT names, as our images' syslinux.cfg writes it", () => {
    const text = [
      "SERIAL 0 115200",
      "DEFAULT bootwright",
      "PROMPT 0",
      "LABEL rescue",
      "  LINUX /rescue",
      "LABEL bootwright",
      "  LINUX /vmlinuz",
      "  INITRD /initrd.img",
      "  APPEND root=PARTUUID=b0077a1c rw console=ttyS0,115200n8 quiet",
    ].join("\n");
    expect(parseSyslinux(text)).toEqual({
      kernel: "/vmlinuz",
      initrds: ["/initrd.img"],
      cmdline: "root=PARTUUID=b0077a1c rw console=ttyS0,115200n8 quiet",
    });
  });

  it("without DEFAULT takes the first LABEL; APPEND's initrd= becomes the initrds, not an option", () => {
    const text =
      "label one\n kernel vmlinuz-6\n append initrd=ucode.img,initrd-6.img ro quiet\nlabel two\n kernel x\n";
    expect(parseSyslinux(text)).toEqual({
      kernel: "vmlinuz-6",
      initrds: ["ucode.img", "initrd-6.img"],
      cmdline: "ro quiet",
    });
  });

  it("APPEND - is no options; a label without a kernel gives nothing", () => {
    expect(parseSyslinux("LABEL a\n LINUX /k\n APPEND -\n")).toEqual({
      kernel: "/k",
      initrds: [],
      cmdline: "",
    });
    expect(parseSyslinux("DEFAULT a\nLABEL a\n  MENU LABEL nothing\n")).toBeUndefined();
  });
});

describe("parseGrub", () => {
  it("reads our images' grub.cfg", () => {
    const text = [
      "set timeout=0",
      "search --no-floppy --label BOOTWRIGHT --set=root",
      "linux /vmlinuz root=PARTUUID=b0077a1c rw console=ttyS0,115200n8 quiet",
      "initrd /initrd.img",
      "boot",
    ].join("\n");
    expect(parseGrub(text)).toEqual({
      kernel: "/vmlinuz",
      initrds: ["/initrd.img"],
      cmdline: "root=PARTUUID=b0077a1c rw console=ttyS0,115200n8 quiet",
    });
  });

  it("takes the first menu entry of a Debian grub.cfg, dropping a variable among the options", () => {
    const text = [
      'set default="0"',
      "menuentry 'Debian GNU/Linux' --class debian {",
      "\tload_video",
      "\tsearch --no-floppy --fs-uuid --set=root 1a2b",
      "\tlinux\t(hd0,gpt2)/boot/vmlinuz-6.1.0-28-amd64 root=UUID=1a2b ro quiet $vt_handoff",
      "\tinitrd\t/boot/intel-ucode.img /boot/initrd.img-6.1.0-28-amd64",
      "}",
      "menuentry 'older' {",
      "\tlinux /boot/vmlinuz-6.1.0-27-amd64 root=UUID=1a2b ro",
      "\tinitrd /boot/initrd.img-6.1.0-27-amd64",
      "}",
    ].join("\n");
    expect(parseGrub(text)).toEqual({
      kernel: "/boot/vmlinuz-6.1.0-28-amd64",
      initrds: ["/boot/intel-ucode.img", "/boot/initrd.img-6.1.0-28-amd64"],
      cmdline: "root=UUID=1a2b ro quiet",
    });
  });

  it("reads past the grubenv defaults Debian's grub.cfg sets before its own", () => {
    const text = [
      "if [ -s $prefix/grubenv ]; then",
      "  load_env",
      "fi",
      'if [ "${next_entry}" ] ; then',
      '   set default="${next_entry}"',
      "   set next_entry=",
      "else",
      '   set default="0"',
      "fi",
      "menuentry 'Debian GNU/Linux' {",
      "\tlinux /boot/vmlinuz-6.1.0-28-amd64 root=UUID=1a2b ro quiet",
      "\tinitrd /boot/initrd.img-6.1.0-28-amd64",
      "}",
    ].join("\n");
    expect(parseGrub(text)?.kernel).toBe("/boot/vmlinuz-6.1.0-28-amd64");
  });

  it("gives nothing for a stub that loads another grub.cfg, a kernel path from a variable, or another default", () => {
    expect(
      parseGrub("search.fs_uuid 1a2b root\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n"),
    ).toBeUndefined();
    expect(parseGrub("linux $kernel root=/dev/sda2\n")).toBeUndefined();
    expect(parseGrub('set default="2"\nlinux /vmlinuz ro\n')).toBeUndefined();
  });
});

describe("Boot Loader Specification entries", () => {
  it("reads linux, every initrd and every options line", () => {
    const text =
      "title Fedora\nversion 6.11\nlinux /vmlinuz-6.11\ninitrd /amd-ucode.img\ninitrd /initramfs-6.11.img\noptions root=UUID=9 ro\noptions quiet\n";
    expect(parseBlsEntry(text)).toEqual({
      kernel: "/vmlinuz-6.11",
      initrds: ["/amd-ucode.img", "/initramfs-6.11.img"],
      cmdline: "root=UUID=9 ro quiet",
    });
    expect(parseBlsEntry("title only\n")).toBeUndefined();
  });

  it("offers the newest version first, comparing numbers as numbers", () => {
    expect(blsEntriesNewestFirst(["a-6.9.conf", "a-6.11.conf", "notes.txt", "a-6.10.conf"])).toEqual([
      "a-6.11.conf",
      "a-6.10.conf",
      "a-6.9.conf",
    ]);
  });
});

describe("filesystemOf", () => {
  const head = () => new Uint8Array(4096);
  it("tells ext4, XFS and FAT apart by their superblocks, and a raw partition from all three", () => {
    const ext = head();
    ext[0x438] = 0x53;
    ext[0x439] = 0xef;
    expect(filesystemOf(ext)).toBe("ext4");
    const xfs = head();
    xfs.set(Buffer.from("XFSB"), 0);
    expect(filesystemOf(xfs)).toBe("xfs");
    const fat32 = head();
    fat32.set(Buffer.from("FAT32   "), 0x52);
    fat32[510] = 0x55;
    fat32[511] = 0xaa;
    expect(filesystemOf(fat32)).toBe("vfat");
    const marker = head();
    marker.set(Buffer.from('{"image":"tiny","planHash":"sha256:00"}'), 0);
    expect(filesystemOf(marker)).toBeUndefined();
    expect(filesystemOf(new Uint8Array(0))).toBeUndefined();
  });
});
