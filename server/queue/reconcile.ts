// Reconciliation inside a transaction (seed 000): a machine's queue brought in line with its
// difference, the decision being the pure reconciler's (reconciler.ts); and the expected category set.
import type { BootCategory, Machine } from "../../protocol/index.js";
import type { CommandRecord, Rows } from "../db/rows.js";
import { resolvePlan } from "../policy/planning.js";
import { differenceOf, queueChanges } from "./reconciler.js";
import { cancel, enqueue, mustGet } from "./steps.js";

/** The pending commands the reconciler owns: a maintenance swap queues and ends its run-maintenance itself. */
async function reconciledCommands(rows: Rows, machineId: string): Promise<CommandRecord[]> {
  return (await rows.commands.pending(machineId)).filter((command) => command.kind !== "run-maintenance");
}

/**
 * Brings one machine's queue in line with its difference, and returns the machine as it then is.
 * `known`: the machine as the caller just wrote it, in this transaction (saves reading it again).
 */
export async function reconcileMachine(
  rows: Rows,
  id: string,
  at: string,
  known?: Machine,
): Promise<Machine> {
  const machine = known ?? (await mustGet(rows, id));
  const difference = differenceOf(machine);
  if (difference?.commands[0]?.kind === "resolve-policy") {
    const planned = await resolvePlan(rows, machine, at);
    // Planning moved the machine (plan, category): read it again.
    if (planned.ok) return reconcileMachine(rows, id, at);
    for (const command of await reconciledCommands(rows, id)) await cancel(rows, id, command.id, at);
    await rows.log.append(id, at, "difference-blocked", {
      expected: difference.expected,
      reason: planned.reason,
    });
    return machine;
  }
  const pending = (await reconciledCommands(rows, id)).map((command) => ({
    id: command.id,
    kind: command.kind,
    onSuccess: command.onSuccess,
  }));
  const changes = queueChanges(difference, pending);
  for (const commandId of changes.cancel) await cancel(rows, id, commandId, at);
  for (const command of changes.enqueue) await enqueue(rows, id, command, at);
  if (
    difference?.blocked &&
    (changes.cancel.length > 0 || changes.enqueue.length > 0 || pending.length === 0)
  )
    await rows.log.append(id, at, "difference-blocked", {
      expected: difference.expected,
      reason: difference.blocked,
    });
  return machine;
}

/**
 * Sets (or clears) what the machine is expected to be, and queues the commands that close the gap;
 * returns the machine as it then is.
 */
export async function setExpected(
  rows: Rows,
  machine: Machine,
  expected: BootCategory | null,
  at: string,
): Promise<Machine> {
  await rows.machines.update(machine.id, { expected });
  await rows.log.append(machine.id, at, "expected", {
    from: machine.expected,
    to: expected,
    current: machine.category,
  });
  return reconcileMachine(rows, machine.id, at, { ...machine, expected });
}
