// An operator's approval (bootwright approve): a machine that waits (new in approve or allowlist mode,
// back with other hardware, or held while its agent held a lease) becomes `approved`, and its next
// inventory post enrolls it, taking what it then reports as the machine's hardware.
import type { Machine } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { matchesWhere, type Where } from "../selector.js";

/** Whether an approval changes anything: an enrolled machine has nothing to approve. */
function waits(machine: Machine): boolean {
  return machine.enrollment.state !== "enrolled" && machine.enrollment.state !== "approved";
}

/**
 * Approves the machines named (unknown ids are skipped: the route checks them first) or every machine
 * matching `where`; returns those whose state changed, by id.
 */
export async function approveMachines(
  rows: Rows,
  target: { ids: readonly string[] } | { where: Where },
  at: string,
): Promise<string[]> {
  const candidates =
    "ids" in target
      ? target.ids
      : (await rows.machines.list())
          .filter((machine) => matchesWhere(machine, target.where))
          .map((m) => m.id);
  const approved: string[] = [];
  for (const id of [...candidates].sort()) {
    const machine = await rows.machines.lock(id);
    if (machine === undefined || machine === "busy" || !waits(machine)) continue;
    await rows.machines.update(id, {
      enrollment: { state: "approved", reason: null, sharedUuid: machine.enrollment.sharedUuid },
    });
    await rows.log.append(id, at, "enrollment-approved", {
      from: machine.enrollment.state,
      reason: machine.enrollment.reason,
    });
    approved.push(id);
  }
  return approved;
}
