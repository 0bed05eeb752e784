// The policy's plan, resolved for one machine into the plan its tailored agent carries (pure): by the
// server for an online machine, by the loader for one booted from offline media.
import type { AgentPlan } from "./agent-plan.js";
import type { ImageSource } from "./images.js";
import type { Inventory } from "./inventory.js";
import type { Machine } from "./machine.js";

/** `image` is the plan's image as found in the store or on the media (undefined when it is not there). */
export function agentPlanFor(
  plan: Pick<NonNullable<Machine["plan"]>, "plan" | "planHash">,
  inventory: Inventory,
  image?: ImageSource,
): AgentPlan {
  const spec = plan.plan;
  const agentPlan: AgentPlan = { planHash: plan.planHash, image: spec.image };
  if (image)
    agentPlan.imageSource = {
      sha256: image.sha256,
      format: image.format,
      sizeBytes: image.sizeBytes,
      rawBytes: image.rawBytes,
      rawSha256: image.rawSha256,
    };
  const drivers = controllerModules(inventory);
  if (drivers.length) agentPlan.drivers = drivers;
  if (spec.uefi) agentPlan.uefi = spec.uefi;
  if (spec.verify) agentPlan.verify = spec.verify;
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

/** The modules claiming the machine's storage (PCI class 0x01) and network (0x02) controllers. */
function controllerModules(inventory: Inventory): string[] {
  const modules = (inventory.details?.pciDevices ?? []).flatMap((device) =>
    /^0x0[12]/.test(device.classCode) && device.module !== null ? [device.module] : [],
  );
  return [...new Set(modules)].sort();
}
