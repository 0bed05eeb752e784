// Reports the target disks the plan will use (every machine's agent has it: the first step is always
// a look at what is really there, before anything is written).
import { readDisks } from "../../inventory/disks.js";
import type { InstallerPlugin } from "../plugin.js";
import { diskReportProbe } from "../probes/disk-report.js";

export const diskReport: InstallerPlugin = {
  ...diskReportProbe,
  steps: [
    {
      name: "list-disks",
      run: async (ctx) => {
        const disks = await readDisks(ctx.root);
        if (disks.length === 0) throw new Error("no disks: nothing to install onto");
        ctx.progress("disks present", { disks: disks.map((d) => `${d.name}:${d.sizeBytes}`).join(",") });
        return { disks };
      },
    },
  ],
};
