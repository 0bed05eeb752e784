// The policy's plan, resolved for one machine into the plan its tailored agent carries (pure).
import type { AgentPlan, Inventory, Machine } from "../protocol/index.js";

export function agentPlanFor(plan: NonNullable<Machine["plan"]>, inventory: Inventory): AgentPlan {
  const spec = plan.plan;
  const agentPlan: AgentPlan = { planHash: plan.planHash, image: spec.image };
  if (spec.uefi) agentPlan.uefi = spec.uefi;
  if (spec.partitions) agentPlan.partitions = spec.partitions;
  if (spec.raid) {
    // "all" means every disk this machine has; a count larger than that is left for the plugin's probe to refuse.
    agentPlan.raid = {
      level: spec.raid.level,
      disks: spec.raid.disks === "all" ? inventory.disks.length : spec.raid.disks,
    };
  }
  return agentPlan;
}
