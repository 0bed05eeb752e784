// uefi-vars' probe: the plan has UEFI settings and the machine booted through UEFI.
import type { PluginProbe } from "../plugin.js";

export const uefiVarsProbe: PluginProbe = {
  name: "uefi-vars",
  phase: "configure",
  probe: (inventory, plan) => (plan.uefi && inventory.details?.firmwareType === "uefi" ? "generic" : "none"),
};
