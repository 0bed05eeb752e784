// Retiring a machine (issue 18): it stays in the boot list with its log, but the reconciler gives it no
// command that plans or installs it (server/queue/reconciler.ts), and the difference list says who
// retired it and when. Unretiring lets its difference close again.
import type { Machine } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { reconcileMachine } from "../queue/reconcile.js";
import { mustGet } from "../queue/steps.js";

/**
 * Retires (or, with `retire` false, unretires) the machine, in the caller's transaction, and brings its
 * queue in line: retiring cancels what would plan or install it, unretiring queues it again. Retiring a
 * retired machine keeps the first record (who retired it, when).
 */
export async function setRetired(
  rows: Rows,
  machine: Machine,
  change: { retire: boolean; by: string },
  at: string,
): Promise<Machine> {
  if (change.retire === (machine.retired !== null)) return machine;
  const retired = change.retire ? { by: change.by, at } : null;
  await rows.machines.update(machine.id, { retired });
  await rows.log.append(
    machine.id,
    at,
    change.retire ? "retired" : "unretired",
    change.retire ? { by: change.by } : { by: change.by, retiredBy: machine.retired?.by ?? null },
  );
  await reconcileMachine(rows, machine.id, at);
  return mustGet(rows, machine.id);
}
