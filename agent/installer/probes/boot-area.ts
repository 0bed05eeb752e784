// boot-area's probe: a whole-disk image (raw.zst) leaves a boot area worth recording for the repair image.
import type { PluginProbe } from "../plugin.js";

export const bootAreaProbe: PluginProbe = {
  name: "boot-area",
  phase: "image",
  probe: (_inventory, plan) => (plan.imageSource?.format === "raw.zst" ? "generic" : "none"),
};
