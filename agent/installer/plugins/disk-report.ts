// Reports the target disks the plan will use (every machine's agent has it: the first step is always
// a look at what is really there, before anything is written).
import { join } from "node:path";
import { readDisks } from "../../inventory/disks.js";
import { exists } from "../../inventory/sysfs.js";
import type { InstallerPlugin } from "../plugin.js";
import { diskReportProbe } from "../probes/disk-report.js";

export const diskReport: InstallerPlugin = {
  ...diskReportProbe,
  steps: [
    {
      name: "list-disks",
      run: async (ctx) => {
        // The controllers' drivers the plan names (some sent on demand at boot) must be in the kernel.
        const missing: string[] = [];
        for (const module of ctx.plan.drivers ?? [])
          if (!(await exists(join(ctx.root, "sys/module", module)))) missing.push(module);
        if (missing.length)
          throw new Error(
            `the plan's drivers are not loaded: ${missing.join(", ")} (the loader's on-demand fetch failed: see its drivers report)`,
          );
        const disks = await readDisks(ctx.root);
        if (disks.length === 0) throw new Error("no disks: nothing to install onto");
        ctx.progress("disks present", { disks: disks.map((d) => `${d.name}:${d.sizeBytes}`).join(",") });
        return { disks, drivers: ctx.plan.drivers ?? [] };
      },
    },
  ],
};
