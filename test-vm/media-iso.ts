// The rescue media of the VM tests and benchmarks: `bootwright media build` run as an operator runs it,
// for a test server, with the serial console last on the kernel command line (the loader's lines reach
// the test) and the loader's own kernel and initramfs from build/.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MEDIA_SETTINGS_FILE } from "../protocol/index.js";
import { INITRAMFS_PATH, KERNEL_PATH, REPO_ROOT } from "./paths.js";

const run = promisify(execFile);

export const MEDIA_TEST_KERNEL_ARGS =
  "console=tty0 console=ttyS0,115200n8 quiet panic=-1 bootwright.lldp-wait=0";

/** Builds the ISO at `out` for `serverUrl` (null: none, offline media); `more` adds flags (e.g. --static). */
export async function buildTestMedia(
  serverUrl: string | null,
  out: string,
  more: string[] = [],
): Promise<void> {
  await run(
    join(REPO_ROOT, "bin/bootwright"),
    [
      "media",
      "build",
      ...(serverUrl === null ? [] : ["--server", serverUrl]),
      "--out",
      out,
      "--kernel",
      KERNEL_PATH,
      "--initramfs",
      INITRAMFS_PATH,
      "--kernel-args",
      MEDIA_TEST_KERNEL_ARGS,
      ...more,
    ],
    { timeout: 120_000 },
  );
}

/**
 * QEMU arguments that put `iso` in a CD drive (SeaBIOS boots it after an empty disk): on the legacy IDE
 * controller, or on SATA (AHCI), as servers' optical drives are, where SeaBIOS reads it by DMA (the
 * kernel and initramfs load in ~5 s under TCG instead of ~10 s by IDE PIO).
 */
export function cdromArgs(iso: string, bus: "ide" | "sata" = "ide"): string[] {
  const drive = `file=${iso},media=cdrom,readonly=on`;
  return bus === "ide"
    ? ["-drive", drive]
    : [
        "-device",
        "ahci,id=sata",
        "-drive",
        `if=none,id=cd,${drive}`,
        "-device",
        "ide-cd,drive=cd,bus=sata.0",
      ];
}

/** QEMU arguments that plug `stick` in as a USB disk (xHCI + usb-storage), the firmware's first boot. */
export function usbStickArgs(stick: string): string[] {
  return [
    "-drive",
    `file=${stick},if=none,id=stick,format=raw`,
    "-device",
    "qemu-xhci",
    "-device",
    "usb-storage,drive=stick,bootindex=0",
  ];
}

/** mtools' address of the image's ESP (the MBR's 0xef partition): `<image>@@<byte offset>`. */
async function espOf(image: string): Promise<string> {
  const { stdout } = await run("sfdisk", ["--json", image]);
  const parts = (JSON.parse(stdout) as { partitiontable: { partitions: { start: number; type: string }[] } })
    .partitiontable.partitions;
  const esp = parts.find((part) => part.type === "ef");
  if (!esp) throw new Error(`no ESP in ${image}: ${stdout}`);
  return `${image}@@${String(esp.start * 512)}`;
}

/** The settings file on the image's ESP, as a technician would read it. */
export async function readSettingsOnEsp(image: string): Promise<string> {
  return (await run("mtype", ["-i", await espOf(image), `::/${MEDIA_SETTINGS_FILE}`])).stdout;
}

/** Replaces the settings file on the image's ESP, as a technician edits a stick: no rebuild. */
export async function writeSettingsOnEsp(image: string, text: string): Promise<void> {
  const file = join(tmpdir(), `bootwright-cfg-${String(process.pid)}`);
  writeFileSync(file, text);
  await run("mcopy", ["-o", "-i", await espOf(image), file, `::/${MEDIA_SETTINGS_FILE}`]);
}
