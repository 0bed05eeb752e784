// A machine fails (a command failed, a lease ran out for good, a maintenance run went wrong): it shows
// `failed` with the reason, its maintenance run fails with it, and its expectation is cleared so the
// reconciler does not retry in a loop: the operator decides what next.
import type { Machine } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { failActiveRun } from "../maintenance/run-failure.js";
import { reconcileMachine } from "./reconcile.js";
import { setCategory } from "./steps.js";

export async function failMachine(rows: Rows, machine: Machine, at: string, why: string): Promise<void> {
  await setCategory(rows, machine, "failed", at, why);
  await failActiveRun(rows, machine.id, at, why);
  await rows.machines.update(machine.id, { expected: null });
  await reconcileMachine(rows, machine.id, at);
}
