// What happens when an agent posts a command's result, or a step event under its lease: the pure
// decision is command-results.ts (apply once, a retried post is a duplicate, a stale lease is refused);
// this applies it: the command's state, the step log, the category, the next commands.
import type {
  AgentEvent,
  BootCategory,
  CommandResult,
  LeasedCommand,
  Machine,
} from "../../protocol/index.js";
import type { CommandRecord, Rows } from "../db/rows.js";
import { factoryCommandResult } from "../factory/flow.js";
import { configurationFingerprint } from "../fingerprint.js";
import { runReported } from "../maintenance/runs.js";
import { decideResult } from "./command-results.js";
import { failMachine } from "./failure.js";
import { leaseGivenAfter, leaseHead } from "./leases.js";
import { reconcileMachine } from "./reconcile.js";
import type { LeaseDurations } from "./reconciler.js";
import { mustGet, setCategory } from "./steps.js";

/** `next`: the command leased with the answer, when the post asked for it (null: nothing to run now). */
export type CompleteOutcome =
  | { kind: "applied"; category: BootCategory; next?: LeasedCommand | null }
  | { kind: "duplicate"; category: BootCategory; next?: LeasedCommand | null }
  | { kind: "refused"; reason: string }
  | { kind: "unknown" };

export type EventOutcome = { kind: "recorded"; category: BootCategory } | { kind: "refused"; reason: string };

export async function completeCommand(
  rows: Rows,
  id: string,
  commandId: string,
  result: CommandResult,
  when: Date,
  /** Set: lease the machine's next command in this transaction too (the post's `?next=1`). */
  leaseAfter?: LeaseDurations,
): Promise<CompleteOutcome> {
  const at = when.toISOString();
  const machine = await rows.machines.lock(id);
  if (machine === undefined || machine === "busy") return { kind: "unknown" };
  const command = await rows.commands.get(id, commandId);
  if (!command) return { kind: "refused", reason: `machine ${id} has no command ${commandId}` };
  const decision = decideResult(
    {
      id: command.id,
      kind: command.kind,
      state: command.state,
      onSuccess: command.onSuccess,
      leaseId: command.leaseId,
      leaseExpiresAt: command.leaseExpiresAt,
    },
    machine.category,
    result,
    when,
  );
  switch (decision.kind) {
    case "refuse":
      await rows.log.append(id, at, "command-result-refused", {
        command: commandId,
        lease: result.leaseId,
        reason: decision.reason,
      });
      return { kind: "refused", reason: decision.reason };
    case "duplicate":
      await rows.log.append(id, at, "command-result-duplicate", {
        command: commandId,
        lease: result.leaseId,
      });
      // The lease the first answer gave, not a second one.
      return {
        kind: "duplicate",
        category: machine.category,
        ...(leaseAfter ? { next: await leaseGivenAfter(rows, id, command, when) } : {}),
      };
    case "apply":
      break;
  }
  await applyResult(rows, machine, command, result, decision, at);
  // The factory line's traveler follows its unit's commands (burn-in, install), in this transaction.
  await factoryCommandResult(rows, id, command, result, at);
  if (!leaseAfter) return { kind: "applied", category: (await mustGet(rows, id)).category };
  // The machine is locked since the top of this transaction: the next command is leased as GET next
  // would lease it, and its category (imaging, configuring) is the one the answer gives.
  const next = await leaseHead(rows, id, when, leaseAfter);
  return {
    kind: "applied",
    category: (await mustGet(rows, id)).category,
    next: next.kind === "leased" ? next.command : null,
  };
}

async function applyResult(
  rows: Rows,
  machine: Machine,
  command: CommandRecord,
  result: CommandResult,
  decision: Extract<ReturnType<typeof decideResult>, { kind: "apply" }>,
  at: string,
): Promise<void> {
  const { id } = machine;
  const commandId = command.id;
  await rows.commands.update(commandId, { state: decision.state, error: decision.error, updatedAt: at });
  await rows.log.append(id, at, `command-${decision.state}`, {
    command: commandId,
    kind: command.kind,
    ...(decision.error ? { error: decision.error } : {}),
    ...(result.outcome === "succeeded" && result.output.kind === "check-disks"
      ? { disks: result.output.disks }
      : {}),
  });
  // Each step of a tailored agent gets its own line in the machine's step log, with its timing.
  if (
    result.outcome === "succeeded" &&
    (result.output.kind === "run-agent" || result.output.kind === "write-image")
  )
    for (const step of result.output.steps)
      await rows.log.append(id, at, "agent-step", { agent: result.output.sha256, ...step });
  // Each disk's erase, with how it was done and checked, in the step log (issue 18).
  if (result.outcome === "succeeded" && result.output.kind === "erase-disks")
    for (const disk of result.output.disks)
      await rows.log.append(id, at, "disk-erased", { mode: result.output.mode, ...disk });
  if (decision.inventory)
    await rows.machines.update(id, {
      inventory: decision.inventory,
      fingerprint: configurationFingerprint(decision.inventory),
      lastSeenAt: at,
    });
  if (decision.clearExpected) {
    await failMachine(rows, machine, at, decision.error ?? "command failed");
    return;
  }
  await setCategory(rows, machine, decision.category, at, `${command.kind} succeeded`);
  // What this transaction wrote is known: reconcile from it rather than read the row again.
  const known = decision.inventory ? undefined : { ...machine, category: decision.category };
  await reconcileMachine(rows, id, at, known);
  if (result.outcome === "succeeded" && result.output.kind === "run-maintenance")
    await runReported(rows, id, commandId, result.output.report, at);
}

/** An agent's step or progress event for its leased command: logged, or refused when the lease is not current. */
export async function recordAgentEvent(
  rows: Rows,
  id: string,
  event: AgentEvent,
  when: Date,
): Promise<EventOutcome> {
  const at = when.toISOString();
  const machine = await rows.machines.get(id);
  const command = (await rows.commands.pending(id)).find((c) => c.id === event.commandId);
  if (!machine || command?.state !== "leased" || command.leaseId !== event.leaseId)
    return {
      kind: "refused",
      reason: `command ${event.commandId} of machine ${id} is not leased under ${event.leaseId}`,
    };
  // The recipe's script and the capture: the boot list shows the machine `capturing` meanwhile.
  if (event.event === "step-started" && event.plugin === "recipe-capture")
    await setCategory(rows, machine, "capturing", at, `recipe-capture/${event.step} started`);
  await rows.log.append(id, at, `agent-${event.event}`, {
    command: command.id,
    plugin: event.plugin,
    step: event.step,
    message: event.message,
    ...event.data,
  });
  return { kind: "recorded", category: machine.category };
}
