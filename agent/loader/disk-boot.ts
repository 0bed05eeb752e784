// Rebooting into the machine's own disk. Where the firmware cannot be trusted to reach the disk after
// our answer, the loader points the next boot at it first: BootNext = the disk's boot option, once
// (BootOrder, network first, stays as the site set it).
// - UEFI HTTP boot of our UKI has no "local disk" answer before the loader (the firmware fetches one
//   URL for everyone).
// - UEFI PXE into a chain-loaded ipxe.efi: the script's local-disk answer is iPXE's `exit`, and OVMF then
//   went on to the NIC's other network options and never reached the disk (test-vm/relay-boot.test.ts
//   before BootNext). iPXE in the NIC's own option ROM (`ipxe`) and GRUB (`secure-boot`) do reach it.
// - Rescue media is in the same place on UEFI (BootNext, never the option we booted from: the stick is a
//   disk too); on BIOS there are no variables, so the console tells the operator to take the media out.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { BootPath } from "../../protocol/index.js";
import { readBootOptions, readGlobalNumbers } from "../installer/boot-options.js";
import { bootName, efivarFile, encodeBootNumbers, NV_BS_RT } from "../installer/efi-boot.js";
import { ensureEfivarfs, GLOBAL_GUID, writeEfivar } from "../installer/efivarfs.js";
import { sleep } from "../shared/backoff.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";

/**
 * Sets BootNext to the first active disk option in BootOrder other than BootCurrent (the rescue media
 * when booted from it), unless this boot already set it; says what it did or why it could not.
 */
export async function pointNextBootAtDisk(root: string): Promise<void> {
  const signal = AbortSignal.timeout(30_000);
  try {
    await ensureEfivarfs(root, run, signal);
    // Firmware deletes BootNext on the boot that uses it, so one that is set now was set during this
    // boot: by the plan's uefi-vars step (disk-first sends the reboot after the install back to the
    // server, which decides). The plan's choice stands.
    const planned = (await readGlobalNumbers(root, "BootNext"))?.[0];
    if (planned !== undefined) {
      say("ok", "next boot: as the plan's UEFI step set it", { option: bootName(planned) });
      return;
    }
    const order = (await readGlobalNumbers(root, "BootOrder")) ?? [];
    const current = (await readGlobalNumbers(root, "BootCurrent"))?.[0];
    const disk = (await readBootOptions(root, order)).find(
      (o) => o.active && o.class === "disk" && o.number !== current,
    );
    if (!disk) {
      // OVMF and most firmware make a disk's option when they find its ESP at power-on: after an install
      // that is the next boot, which comes back here and is told again to boot the disk.
      say("warn", "no disk boot option yet: this boot comes back to the loader once", {
        order: order.map(bootName).join(","),
      });
      return;
    }
    await writeEfivar(
      root,
      "BootNext",
      GLOBAL_GUID,
      efivarFile(NV_BS_RT, encodeBootNumbers([disk.number])),
      run,
      signal,
    );
    say("ok", "next boot: the disk", { option: disk.option, description: disk.description });
  } catch (err) {
    say("warn", "could not set BootNext", { reason: err instanceof Error ? err.message : String(err) });
  }
}

/** Whether this machine booted through UEFI (efivarfs has something to write to). */
export function bootedUefi(root: string): boolean {
  return existsSync(join(root, "sys/firmware/efi"));
}

export const REMOVE_MEDIA_MESSAGE =
  "remove the rescue media (or put the disk before it in the boot order): the machine boots its disk next";

/** The UEFI boot paths whose answer "boot the local disk" may not reach it (see above). */
const BOOT_NEXT_PATHS: ReadonlySet<BootPath> = new Set(["uefi-http", "pxe-uefi", "media"]);

/**
 * Reboots into the installed system: through BootNext on the paths above; from BIOS rescue media after
 * telling the operator to take it out. Never returns.
 */
export async function rebootToDisk(bootPath: BootPath | null, root = "/"): Promise<never> {
  if (bootPath && BOOT_NEXT_PATHS.has(bootPath) && bootedUefi(root)) await pointNextBootAtDisk(root);
  else if (bootPath === "media") say("warn", REMOVE_MEDIA_MESSAGE);
  await run("sync", [], { timeoutMs: 30_000 }).catch(() => undefined);
  await run("reboot", ["-f"], { timeoutMs: 10_000 });
  for (;;) await sleep(60_000);
}
