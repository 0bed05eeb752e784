// The programs installer plugins (and the loader's erase) run that busybox does not provide. build-scripts/build-initramfs.ts
// copies each one, with the shared libraries ldd names, to the same path in the initramfs; the plugins
// call them by that absolute path, since busybox's own applets (mke2fs, mkdosfs) come first on PATH.

export interface HostTool {
  path: string;
  /** The Debian package that ships it (build-scripts/setup.sh installs it on the build host). */
  pkg: string;
}

export const TOOLS = {
  mdadm: { path: "/usr/sbin/mdadm", pkg: "mdadm" },
  mke2fs: { path: "/usr/sbin/mke2fs", pkg: "e2fsprogs" },
  /** Grows the installed root online for a recipe that asks for room (plugins/recipe-capture.ts). */
  resize2fs: { path: "/usr/sbin/resize2fs", pkg: "e2fsprogs" },
  /** efivarfs marks most variables immutable; FS_IOC_SETFLAGS is not reachable from Node. */
  chattr: { path: "/usr/bin/chattr", pkg: "e2fsprogs" },
  mkfsFat: { path: "/usr/sbin/mkfs.fat", pkg: "dosfstools" },
  mkfsXfs: { path: "/usr/sbin/mkfs.xfs", pkg: "xfsprogs" },
  /** The erase of a released machine (agent/loader/erase.ts): signatures, discard, device erases. */
  wipefs: { path: "/usr/sbin/wipefs", pkg: "util-linux" },
  blkdiscard: { path: "/usr/sbin/blkdiscard", pkg: "util-linux" },
  hdparm: { path: "/usr/sbin/hdparm", pkg: "hdparm" },
} as const satisfies Record<string, HostTool>;

export const INITRAMFS_TOOLS: readonly HostTool[] = Object.values(TOOLS);
