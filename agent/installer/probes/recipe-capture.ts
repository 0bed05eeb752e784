// recipe-capture's probe: the plan carries a recipe to run on a written whole-disk image (seed 003).
import type { PluginProbe } from "../plugin.js";

export const recipeCaptureProbe: PluginProbe = {
  name: "recipe-capture",
  phase: "image",
  probe: (_inventory, plan) => (plan.capture && plan.imageSource?.format === "raw.zst" ? "generic" : "none"),
};
