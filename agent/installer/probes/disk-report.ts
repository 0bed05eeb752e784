// disk-report's probe: every machine's agent has it (the first step is always a look at the disks).
import type { PluginProbe } from "../plugin.js";

export const diskReportProbe: PluginProbe = {
  name: "disk-report",
  phase: "configure",
  probe: () => "generic",
};
