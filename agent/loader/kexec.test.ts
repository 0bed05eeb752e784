// Which boot entry the loader starts for `reboot: kexec`, over directories standing in for the installed
// disk's mounted filesystems (the mounts themselves and the jump are test-vm/install.test.ts's).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { firstBootable, type Mounted } from "./kexec.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-kexec-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function filesystem(partition: string, files: Record<string, string>): Mounted {
  const fs = join(dir, partition);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(fs, path)), { recursive: true });
    writeFileSync(join(fs, path), text);
  }
  mkdirSync(fs, { recursive: true });
  return { partition, dir: fs };
}

it("goes past Debian's ESP stub to the root's grub.cfg, and finds its files there", async () => {
  const esp = filesystem("vda1", {
    "EFI/debian/grub.cfg":
      "search.fs_uuid 1a2b root\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n",
  });
  const root = filesystem("vda2", {
    "boot/grub/grub.cfg":
      "menuentry 'Debian' {\n linux /boot/vmlinuz-6.1 root=UUID=1a2b ro quiet\n initrd /boot/initrd.img-6.1\n}\n",
    "boot/vmlinuz-6.1": "kernel",
    "boot/initrd.img-6.1": "initrd",
  });
  expect(await firstBootable([esp, root], [])).toEqual({
    partition: "vda2",
    config: "boot/grub/grub.cfg",
    kernel: "/boot/vmlinuz-6.1",
    initrds: ["/boot/initrd.img-6.1"],
    cmdline: "root=UUID=1a2b ro quiet",
    files: [join(root.dir, "boot/vmlinuz-6.1"), join(root.dir, "boot/initrd.img-6.1")],
  });
});

it("reads a relative syslinux path from the configuration's directory, and a BLS kernel from a separate /boot", async () => {
  const esp = filesystem("sda1", {
    "syslinux/syslinux.cfg": "LABEL l\n LINUX vmlinuz\n APPEND ro\n",
    "syslinux/vmlinuz": "kernel",
  });
  expect((await firstBootable([esp], [])).files).toEqual([join(esp.dir, "syslinux/vmlinuz")]);

  const efi = filesystem("nvme0n1p1", {
    "loader/entries/os-6.9.conf": "linux /vmlinuz-6.9\noptions root=UUID=9\n",
    "loader/entries/os-6.10.conf": "linux /vmlinuz-6.10\ninitrd /initrd-6.10\noptions root=UUID=9 quiet\n",
  });
  const boot = filesystem("nvme0n1p2", { "vmlinuz-6.10": "k", "initrd-6.10": "i", "vmlinuz-6.9": "k" });
  expect(await firstBootable([efi, boot], [])).toMatchObject({
    partition: "nvme0n1p1",
    config: "loader/entries/os-6.10.conf",
    cmdline: "root=UUID=9 quiet",
    files: [join(boot.dir, "vmlinuz-6.10"), join(boot.dir, "initrd-6.10")],
  });
});

it("says what each entry lacks, and what did not mount, when none is complete", async () => {
  const esp = filesystem("vda1", {
    "syslinux.cfg": "LABEL l\n LINUX /vmlinuz\n INITRD /initrd.img\n",
    vmlinuz: "k",
  });
  await expect(firstBootable([esp], ["vda3 (xfs): mount failed"])).rejects.toThrow(
    "no boot entry of the installed disk is complete: vda1:syslinux.cfg names /initrd.img, which is not there; not mounted: vda3 (xfs): mount failed",
  );
  await expect(firstBootable([filesystem("vda2", { "etc/fstab": "" })], [])).rejects.toThrow(
    /hold no boot configuration the loader reads/,
  );
});
