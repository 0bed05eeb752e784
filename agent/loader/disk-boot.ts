// Rebooting into the machine's own disk. iPXE's and GRUB's per-machine scripts answer "local disk"
// themselves at the next boot; UEFI HTTP boot of our UKI has no such answer before the loader (the
// firmware fetches one URL for everyone), so there the loader points the next boot at the disk first:
// BootNext = the disk's boot option, once (BootOrder, network first, stays as the site set it).
import type { BootPath } from "../../protocol/index.js";
import { readBootOptions, readGlobalNumbers } from "../installer/boot-options.js";
import { bootName, efivarFile, encodeBootNumbers, NV_BS_RT } from "../installer/efi-boot.js";
import { ensureEfivarfs, GLOBAL_GUID, writeEfivar } from "../installer/efivarfs.js";
import { sleep } from "../shared/backoff.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";

/** Sets BootNext to the first active disk option in BootOrder; says what it did or why it could not. */
export async function pointNextBootAtDisk(root: string): Promise<void> {
  const signal = AbortSignal.timeout(30_000);
  try {
    await ensureEfivarfs(root, run, signal);
    const order = (await readGlobalNumbers(root, "BootOrder")) ?? [];
    const disk = (await readBootOptions(root, order)).find((o) => o.active && o.class === "disk");
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

/** Reboots into the installed system: on the UKI's path, through BootNext (see above). Never returns. */
export async function rebootToDisk(bootPath: BootPath | null, root = "/"): Promise<never> {
  if (bootPath === "uefi-http") await pointNextBootAtDisk(root);
  await run("sync", [], { timeoutMs: 30_000 }).catch(() => undefined);
  await run("reboot", ["-f"], { timeoutMs: 10_000 });
  for (;;) await sleep(60_000);
}
