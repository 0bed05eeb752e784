// Every installer plugin, in the order their steps run. esbuild cannot discover plugins at run time, so
// the list is explicit; the agent builder bundles only those whose probe applies to a machine. The server
// imports this file, so it holds only the probes (probes/*.ts, pure) and names each whole plugin (with
// its steps: undici, child_process…) by path, for esbuild; registry.test.ts checks both halves agree.
import type { AgentPlan, Inventory } from "../../protocol/index.js";
import type { PluginProbe, Support } from "./plugin.js";
import { bootAreaProbe } from "./probes/boot-area.js";
import { diskReportProbe } from "./probes/disk-report.js";
import { imageStreamProbe } from "./probes/image-stream.js";
import { mdadmRaidProbe } from "./probes/mdadm-raid.js";
import { partitionAfterImageProbe, partitionProbe } from "./probes/partition.js";
import { recipeCaptureProbe } from "./probes/recipe-capture.js";
import { uefiVarsProbe } from "./probes/uefi-vars.js";

export interface RegisteredPlugin {
  /** The plugin as the server sees it: name, phase and probe. */
  plugin: PluginProbe;
  /** The module (from agent/installer/) that exports the whole plugin, and its export name. */
  module: string;
  exportName: string;
}

export const PLUGINS: readonly RegisteredPlugin[] = [
  { plugin: uefiVarsProbe, module: "plugins/uefi-vars.ts", exportName: "uefiVars" },
  { plugin: diskReportProbe, module: "plugins/disk-report.ts", exportName: "diskReport" },
  { plugin: mdadmRaidProbe, module: "plugins/mdadm-raid.ts", exportName: "mdadmRaid" },
  { plugin: partitionProbe, module: "plugins/partition.ts", exportName: "partition" },
  { plugin: imageStreamProbe, module: "plugins/image-stream.ts", exportName: "imageStream" },
  // After image-stream: adds the plan's partitions behind a whole-disk image's own.
  {
    plugin: partitionAfterImageProbe,
    module: "plugins/partition.ts",
    exportName: "partitionAfterImage",
  },
  // After the partitions: records the finished boot area (MBR, GPT) for the repair image (seed 001).
  { plugin: bootAreaProbe, module: "plugins/boot-area.ts", exportName: "bootArea" },
  // Last: the recipe's script runs on the written system, then the disk is captured (seed 003).
  { plugin: recipeCaptureProbe, module: "plugins/recipe-capture.ts", exportName: "recipeCapture" },
];

/** The plugins whose probe applies, in registry order, with how well. Pure. */
export function selectPlugins(inventory: Inventory, plan: AgentPlan): { name: string; support: Support }[] {
  return PLUGINS.map(({ plugin }) => ({ name: plugin.name, support: plugin.probe(inventory, plan) })).filter(
    (p) => p.support !== "none",
  );
}
