// The rescue media of the VM tests and benchmarks: `bootwright media build` run as an operator runs it,
// for a test server, with the serial console last on the kernel command line (the loader's lines reach
// the test) and the loader's own kernel and initramfs from build/.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { INITRAMFS_PATH, KERNEL_PATH, REPO_ROOT } from "./paths.js";

export const MEDIA_TEST_KERNEL_ARGS =
  "console=tty0 console=ttyS0,115200n8 quiet panic=-1 bootwright.lldp-wait=0";

/** Builds the ISO at `out` for `serverUrl`; `more` adds flags (e.g. --static). */
export async function buildTestMedia(serverUrl: string, out: string, more: string[] = []): Promise<void> {
  await promisify(execFile)(
    join(REPO_ROOT, "bin/bootwright"),
    [
      "media",
      "build",
      "--server",
      serverUrl,
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

/** QEMU arguments that put `iso` in the VM's IDE CD drive (SeaBIOS boots it after an empty disk). */
export function cdromArgs(iso: string): string[] {
  return ["-drive", `file=${iso},media=cdrom,readonly=on`];
}
