// The two partition plugins' probes split the work by image format (plugins/partition.ts says why): a
// filesystem-tree image gets a fresh table before it, a whole-disk image gets partitions added after it.
import type { PluginProbe } from "../plugin.js";

export const partitionProbe: PluginProbe = {
  name: "partition",
  phase: "configure",
  probe: (_inventory, plan) =>
    plan.partitions?.length && plan.imageSource?.format !== "raw.zst" ? "generic" : "none",
};

export const partitionAfterImageProbe: PluginProbe = {
  name: "partition-after-image",
  phase: "image",
  probe: (_inventory, plan) =>
    plan.partitions?.length && plan.imageSource?.format === "raw.zst" ? "generic" : "none",
};
