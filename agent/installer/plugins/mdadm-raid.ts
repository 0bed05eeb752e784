// Software RAID with mdadm across the machine's disks (seed 002 claim 5). This step checks the member
// disks and the array the plan asks for; creating it comes with the install issue.
import { readDisks } from "../../inventory/disks.js";
import type { InstallerPlugin } from "../plugin.js";

/** mdadm's minimum member count per level (md(4)). */
const MIN_MEMBERS: Record<number, number> = { 0: 2, 1: 2, 5: 3, 10: 4 };

export const mdadmRaid: InstallerPlugin = {
  name: "mdadm-raid",
  phase: "configure",
  probe: (inventory, plan) =>
    plan.raid && inventory.disks.length >= Math.max(plan.raid.disks, MIN_MEMBERS[plan.raid.level] ?? 2)
      ? "mainline"
      : "none",
  steps: [
    {
      name: "check-members",
      run: async (ctx) => {
        const raid = ctx.plan.raid;
        if (!raid) throw new Error("plan has no RAID section");
        const disks = (await readDisks(ctx.root)).slice(0, raid.disks);
        if (disks.length < raid.disks)
          throw new Error(`RAID ${raid.level} wants ${raid.disks} disks, found ${disks.length}`);
        const members = disks.map((d) => `/dev/${d.name}`);
        const argv = [
          "--create",
          "/dev/md0",
          `--level=${raid.level}`,
          `--raid-devices=${members.length}`,
          ...members,
        ];
        ctx.progress("RAID members ready", { level: raid.level, members: members.join(",") });
        return {
          members,
          mdadmArgv: argv,
          arrayBytes: Math.min(...disks.map((d) => d.sizeBytes)) * (raid.level === 0 ? disks.length : 1),
        };
      },
    },
  ],
};
