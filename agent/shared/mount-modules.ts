// The kernel modules a filesystem's mount needs loaded first, in our initramfs, where nothing loads them
// on demand. Shared by the loader's kexec (it mounts the installed disk to find its boot entries) and the
// recipe-capture plugin (it mounts the installed root to run a recipe in it).
//   vfat: FAT's code page and character set are modules of their own, which a mount does not load by
//     itself (it fails with EINVAL).
//   ext4: it asks the crypto API for crc32c (metadata checksums) at mount, which no module dependency
//     names: without it the mount fails ("Cannot load crc32c driver").
export const MOUNT_MODULES = {
  vfat: ["vfat", "nls_cp437", "nls_ascii"],
  ext4: ["crc32c_generic", "ext4"],
  xfs: ["xfs"],
} as const;
