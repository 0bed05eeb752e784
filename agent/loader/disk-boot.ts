// Rebooting into the machine's own disk. On UEFI the loader points the next boot at the disk first:
// BootNext = the disk's boot option, once (BootOrder, network first, stays as the site set it).
// - UEFI HTTP boot of our UKI has no "local disk" answer before the loader (the firmware fetches one
//   URL for everyone).
// - iPXE's local-disk answer is `exit`, which hands the boot back to the firmware, whose next choice is
//   its own: after UEFI PXE into a chain-loaded ipxe.efi, OVMF went on to the NIC's other network
//   options and never reached the disk (test-vm/relay-boot.test.ts before BootNext). Behind a relay the
//   server cannot tell that path from a NIC's own iPXE ROM (the relay's TFTP did the chaining), so every
//   iPXE path gets BootNext; it also saves the round trip through iPXE and the server.
// - Rescue media is in the same place (BootNext, never the option we booted from: the stick is a disk
//   too); on BIOS there are no variables, so the console tells the operator to take the media out.
// Not on the Secure Boot path: GRUB answers local-disk by chain-loading the disk's own shim itself, so
// the server keeps deciding that boot. BIOS: iPXE's `sanboot` and GRUB reach the disk themselves.
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

/**
 * Reboots into the installed system: on UEFI through BootNext but for GRUB's path (see above); from BIOS
 * rescue media after telling the operator to take it out. Never returns.
 */
export async function rebootToDisk(bootPath: BootPath | null, root = "/"): Promise<never> {
  if (bootPath !== "secure-boot" && bootedUefi(root)) await pointNextBootAtDisk(root);
  else if (bootPath === "media") say("warn", REMOVE_MEDIA_MESSAGE);
  await run("sync", [], { timeoutMs: 30_000 }).catch(() => undefined);
  await run("reboot", ["-f"], { timeoutMs: 10_000 });
  for (;;) await sleep(60_000);
}
