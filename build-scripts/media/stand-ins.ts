// The media unit tests' stand-ins for the kernel, initramfs, shim and GRUB: the build copies them, it does
// not look inside, so a few hundred KB of one byte make a real ISO in a second.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MediaBuildRequest } from "../../server/media/build-media.js";

/** Writes the stand-ins under `dir` and returns a build request for them (no server: add one). */
export function standInMediaRequest(dir: string, out: string): MediaBuildRequest {
  const bootFiles = join(dir, "boot-files");
  mkdirSync(bootFiles, { recursive: true });
  for (const [file, size] of [
    [join(dir, "vmlinuz"), 300_000],
    [join(dir, "initramfs.img"), 500_000],
    [join(bootFiles, "shimx64.efi"), 100_000],
    [join(bootFiles, "disk-grubx64.efi"), 200_000],
  ] as const)
    writeFileSync(file, Buffer.alloc(size, 7));
  return {
    out,
    kernel: join(dir, "vmlinuz"),
    initramfs: join(dir, "initramfs.img"),
    bootFilesDir: bootFiles,
    kernelArgs: "console=ttyS0",
  };
}
