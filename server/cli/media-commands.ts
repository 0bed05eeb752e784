// CLI for rescue media: `bootwright media build` writes a hybrid ISO (CD or dd to a USB stick, BIOS and
// UEFI with Secure Boot) whose loader talks to --server; its settings stay editable on the stick.
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { loadServerConfig } from "../config.js";
import { buildMedia, MediaBuildRefused } from "../media/build-media.js";
import { importMediaReports } from "../media/import-reports.js";
import { offlineInputs } from "../media/offline-inputs.js";
import { formatBytes } from "./format.js";

/** The console the loader prints on: the screen (last console= is /dev/console), serial too for the kernel. */
export const DEFAULT_MEDIA_KERNEL_ARGS = "console=ttyS0,115200n8 console=tty0 quiet panic=-1";

function requiredFlag(value: string | undefined, flag: string): string {
  if (value === undefined || value === "")
    throw new MediaBuildRefused(`media build refused: --offline needs ${flag}`, { setting: flag });
  return value;
}

export function addMediaCommands(program: Command): void {
  const media = program.command("media").description("rescue media: a bootable ISO / USB image");
  media
    .command("build")
    .description(
      "write a hybrid ISO (CD or USB stick, BIOS and UEFI incl. Secure Boot) that enrolls with --server",
    )
    .option(
      "--server <url>",
      "the server's URL as machines reach it, e.g. http://192.0.2.1:8080 (optional with --offline)",
    )
    .option("--offline", "carry --image and --policy: machines install from the media with no server")
    .option("--image <name>", "offline: the image (from the store) the media installs")
    .option("--policy <file>", "offline: the policy (.yaml/.json) the loader resolves itself")
    .option("--data-dir <dir>", "offline: where the store and images live (default ./var)")
    .option(
      "--store <store>",
      "offline: sqlite:<file> or postgres://… (default sqlite:<data-dir>/bootwright.sqlite)",
    )
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
        server?: string;
        offline?: boolean;
        image?: string;
        policy?: string;
        dataDir?: string;
        store?: string;
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
          dataDir: opts.dataDir,
          store: opts.store,
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
          offline: opts.offline
            ? await offlineInputs({
                store: config.store ?? `sqlite:${join(config.dataDir, "bootwright.sqlite")}`,
                dataDir: config.dataDir,
                image: requiredFlag(opts.image, "--image"),
                policyFile: requiredFlag(opts.policy, "--policy"),
              })
            : undefined,
        });
        console.log(
          opts.json
            ? JSON.stringify(built)
            : opts.offline
              ? `wrote ${built.path} (${formatBytes(built.sizeBytes)}): dd it to a USB stick (a CD cannot ` +
                `keep the reports); machines booted from it install ${opts.image ?? ""} with no server, and ` +
                "`bootwright media import <stick>` brings their reports into the store"
              : `wrote ${built.path} (${formatBytes(built.sizeBytes)}): burn it, or dd it to a USB stick; ` +
                `its server is in bootwright.cfg on the stick's EFI partition`,
        );
      },
    );
  media
    .command("import")
    .description("bring the reports offline media wrote (machines, inventories, step logs) into the store")
    .argument("<device|file>", "the stick (e.g. /dev/sdb) or an image file of it")
    .option("--data-dir <dir>", "where the store lives (default ./var)")
    .option("--store <store>", "sqlite:<file> or postgres://… (default sqlite:<data-dir>/bootwright.sqlite)")
    .option("--json", "print JSON")
    .action(async (source: string, opts: { dataDir?: string; store?: string; json?: boolean }) => {
      const config = loadServerConfig({ dataDir: opts.dataDir, store: opts.store });
      const { openStore } = await import("../db/open-store.js");
      const store = await openStore(config.store ?? `sqlite:${join(config.dataDir, "bootwright.sqlite")}`);
      try {
        const result = await importMediaReports(store, source);
        if (opts.json) console.log(JSON.stringify(result));
        else {
          for (const run of result.runs)
            console.log(
              `${run.runId}: machine ${run.machineId} ${run.outcome}${run.imported ? "" : " (already imported)"}`,
            );
          for (const bad of result.unreadable)
            console.error(`${bad.file}: not imported, it does not parse: ${bad.reason}`);
        }
        // A report left out is the operator's to look at: the stick still holds it.
        if (result.unreadable.length > 0) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
