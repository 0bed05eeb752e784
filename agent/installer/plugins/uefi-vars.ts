// UEFI boot settings (seed 002 claim 39): applies only to machines that booted through UEFI and whose plan
// has UEFI settings. This step reads the current BootOrder from efivarfs; writing it comes with the install issue.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { InstallerPlugin } from "../plugin.js";

/** EFI_GLOBAL_VARIABLE GUID (UEFI spec §3.3): BootOrder lives under it. */
const GLOBAL_GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

export const uefiVars: InstallerPlugin = {
  name: "uefi-vars",
  phase: "configure",
  probe: (inventory, plan) => (plan.uefi && inventory.details?.firmwareType === "uefi" ? "generic" : "none"),
  steps: [
    {
      name: "read-boot-order",
      run: async (ctx) => {
        const path = join(ctx.root, "sys/firmware/efi/efivars", `BootOrder-${GLOBAL_GUID}`);
        let bootOrder: string[] = [];
        try {
          // efivarfs: 4 bytes of attributes, then little-endian UINT16 entries.
          const bytes = await readFile(path);
          for (let i = 4; i + 1 < bytes.length; i += 2)
            bootOrder.push(`Boot${bytes.readUInt16LE(i).toString(16).padStart(4, "0").toUpperCase()}`);
        } catch {
          bootOrder = [];
        }
        ctx.progress("UEFI boot order", {
          bootOrder: bootOrder.join(",") || "unreadable",
          wanted: ctx.plan.uefi?.bootOrder,
        });
        return { bootOrder, wanted: ctx.plan.uefi?.bootOrder ?? null };
      },
    },
  ],
};
