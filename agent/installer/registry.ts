// Every installer plugin, in the order their steps run. esbuild cannot discover plugins at run time, so
// the list is explicit; the agent builder bundles only those whose probe applies to a machine.
import type { AgentPlan, Inventory } from "../../protocol/index.js";
import type { InstallerPlugin, Support } from "./plugin.js";
import { bootArea } from "./plugins/boot-area.js";
import { diskReport } from "./plugins/disk-report.js";
import { imageStream } from "./plugins/image-stream.js";
import { recipeCapture } from "./plugins/recipe-capture.js";
import { mdadmRaid } from "./plugins/mdadm-raid.js";
import { partition, partitionAfterImage } from "./plugins/partition.js";
import { uefiVars } from "./plugins/uefi-vars.js";

/** Plugin name → the module that exports it (the builder bundles by path) and its export name. */
export const PLUGINS: readonly { plugin: InstallerPlugin; module: string; exportName: string }[] = [
  { plugin: uefiVars, module: "plugins/uefi-vars.ts", exportName: "uefiVars" },
  { plugin: diskReport, module: "plugins/disk-report.ts", exportName: "diskReport" },
  { plugin: mdadmRaid, module: "plugins/mdadm-raid.ts", exportName: "mdadmRaid" },
  { plugin: partition, module: "plugins/partition.ts", exportName: "partition" },
  { plugin: imageStream, module: "plugins/image-stream.ts", exportName: "imageStream" },
  // After image-stream: adds the plan's partitions behind a whole-disk image's own.
  { plugin: partitionAfterImage, module: "plugins/partition.ts", exportName: "partitionAfterImage" },
  // After the partitions: records the finished boot area (MBR, GPT) for the repair image (seed 001).
  { plugin: bootArea, module: "plugins/boot-area.ts", exportName: "bootArea" },
  // Last: the recipe's script runs on the written system, then the disk is captured (seed 003).
  { plugin: recipeCapture, module: "plugins/recipe-capture.ts", exportName: "recipeCapture" },
];

/** The plugins whose probe applies, in registry order, with how well. Pure. */
export function selectPlugins(inventory: Inventory, plan: AgentPlan): { name: string; support: Support }[] {
  return PLUGINS.map(({ plugin }) => ({ name: plugin.name, support: plugin.probe(inventory, plan) })).filter(
    (p) => p.support !== "none",
  );
}
