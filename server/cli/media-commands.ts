// CLI for rescue media: `bootwright media build` writes a hybrid ISO (CD or dd to a USB stick, BIOS and
// UEFI with Secure Boot) whose loader talks to --server; its settings stay editable on the stick.
import { resolve } from "node:path";
import type { Command } from "commander";
import { loadServerConfig } from "../config.js";
import { buildMedia } from "../media/build-media.js";
import { formatBytes } from "./format.js";

/** The console the loader prints on: the screen (last console= is /dev/console), serial too for the kernel. */
export const DEFAULT_MEDIA_KERNEL_ARGS = "console=ttyS0,115200n8 console=tty0 quiet panic=-1";

export function addMediaCommands(program: Command): void {
  const media = program.command("media").description("rescue media: a bootable ISO / USB image");
  media
    .command("build")
    .description(
      "write a hybrid ISO (CD or USB stick, BIOS and UEFI incl. Secure Boot) that enrolls with --server",
    )
    .requiredOption("--server <url>", "the server's URL as machines reach it, e.g. http://192.0.2.1:8080")
    .option("--ca-fingerprint <sha256:hex>", "the server CA's fingerprint (bootwright init prints it)")
    .option("--static <address/prefix,gateway,dns>", "static addressing for a network without DHCP")
    .option("--out <file>", "where to write the ISO", "bootwright.iso")
    .option("--kernel-args <args>", "kernel parameters", DEFAULT_MEDIA_KERNEL_ARGS)
    .option("--kernel <file>", "loader kernel (default: the server's, build/kernel/vmlinuz)")
    .option("--initramfs <file>", "loader initramfs (default: the server's, build/initramfs.img)")
    .option("--boot-files <dir>", "shim and signed GRUB (default build/boot-files)")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        server: string;
        caFingerprint?: string;
        static?: string;
        out: string;
        kernelArgs: string;
        kernel?: string;
        initramfs?: string;
        bootFiles?: string;
        json?: boolean;
      }) => {
        // The same defaults (and BOOTWRIGHT_KERNEL…) as the server's own boot files.
        const config = loadServerConfig({
          kernelPath: opts.kernel,
          initramfsPath: opts.initramfs,
          bootFilesDir: opts.bootFiles,
        });
        const built = await buildMedia({
          server: opts.server,
          caFingerprint: opts.caFingerprint,
          static: opts.static,
          out: resolve(opts.out),
          kernel: config.kernelPath,
          initramfs: config.initramfsPath,
          bootFilesDir: config.bootFilesDir,
          kernelArgs: opts.kernelArgs,
        });
        console.log(
          opts.json
            ? JSON.stringify(built)
            : `wrote ${built.path} (${formatBytes(built.sizeBytes)}): burn it, or dd it to a USB stick; ` +
                `its server is in bootwright.cfg on the stick's EFI partition`,
        );
      },
    );
}
