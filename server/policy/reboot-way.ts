// How a machine goes from the loader into its installed system (the plan's `reboot`): the loader may
// start the installed kernel itself (kexec) only when nothing waits for the firmware's own reset, and
// when the disk's boot path needs no proving.
import type { BootPath, ImagePurpose, PlanSpec } from "../../protocol/index.js";

export type RebootWay = { via: "kexec" } | { via: "firmware"; reason: string };

export interface RebootSituation {
  /** The plan the machine runs (or is being installed with). */
  plan: PlanSpec | undefined;
  /** How it last reached the loader. */
  bootPath: BootPath | null;
  /** The image of the maintenance run it comes back from, if it does. */
  returningFrom?: ImagePurpose;
}

export function rebootWay({ plan, bootPath, returningFrom }: RebootSituation): RebootWay {
  if (plan?.reboot !== "kexec")
    return { via: "firmware", reason: "the plan's reboot is firmware (the default)" };
  // Staged BIOS attributes, a Secure Boot switch and vendor variables take effect when the firmware resets.
  if (plan.bios)
    return { via: "firmware", reason: "the plan stages BIOS settings: they apply at a firmware reset" };
  if (plan.uefi?.secureBoot !== undefined || plan.uefi?.variables)
    return { via: "firmware", reason: "the plan sets UEFI variables: they apply at a firmware reset" };
  // kexec would start a kernel the firmware never measured: the signed chain starts at the firmware.
  if (bootPath === "secure-boot")
    return {
      via: "firmware",
      reason: "the machine boots the Secure Boot path: its chain of trust starts at the firmware",
    };
  // kexec reads the kernel from the disk's files and never runs its boot sector or boot loader.
  if (returningFrom === "repair")
    return {
      via: "firmware",
      reason:
        "a repair image may have rewritten the disk's boot path: booting it through the firmware proves it",
    };
  return { via: "kexec" };
}
