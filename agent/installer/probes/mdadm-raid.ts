// mdadm-raid's probe: the plan asks for RAID and the machine has the disks its level needs.
import type { PluginProbe } from "../plugin.js";

/** mdadm's minimum member count per level (md(4)). */
const MIN_MEMBERS: Record<number, number> = { 0: 2, 1: 2, 5: 3, 10: 4 };

export const mdadmRaidProbe: PluginProbe = {
  name: "mdadm-raid",
  phase: "configure",
  probe: (inventory, plan) =>
    plan.raid && inventory.disks.length >= Math.max(plan.raid.disks, MIN_MEMBERS[plan.raid.level] ?? 2)
      ? "mainline"
      : "none",
};
