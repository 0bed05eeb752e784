// image-stream's probe: it writes whole-disk images (raw.zst) only.
import type { PluginProbe } from "../plugin.js";

export const imageStreamProbe: PluginProbe = {
  name: "image-stream",
  phase: "image",
  probe: (_inventory, plan) => (plan.imageSource?.format === "raw.zst" ? "generic" : "none"),
};
