// The small writes every service makes to a machine inside a transaction, each with its step-log line:
// one way to move a category, queue, cancel or lease a command.
import { randomUUID } from "node:crypto";
import type { BootCategory, CommandKind, Machine } from "../../protocol/index.js";
import { ServerError } from "../errors.js";
import type { CommandRecord, Rows } from "../db/rows.js";

/** The machine, which the transaction already knows to exist. */
export async function mustGet(rows: Rows, id: string): Promise<Machine> {
  const machine = await rows.machines.get(id);
  if (!machine) throw new ServerError(`machine ${id} vanished inside its own transaction`);
  return machine;
}

export async function setCategory(
  rows: Rows,
  machine: Machine,
  category: BootCategory,
  at: string,
  why: string,
): Promise<void> {
  if (machine.category === category) return;
  await rows.machines.update(machine.id, { category });
  await rows.log.append(machine.id, at, "category", { from: machine.category, to: category, why });
}

/** Queues a command; `leaseUntil` fixes when its lease will end (a maintenance run's deadline). */
export async function enqueue(
  rows: Rows,
  machineId: string,
  command: { kind: CommandKind; onSuccess: BootCategory },
  at: string,
  leaseUntil: string | null = null,
): Promise<string> {
  const id = randomUUID();
  await rows.commands.insert({
    id,
    machineId,
    kind: command.kind,
    onSuccess: command.onSuccess,
    at,
    leaseUntil,
  });
  await rows.log.append(machineId, at, "command-queued", {
    command: id,
    kind: command.kind,
    onSuccess: command.onSuccess,
  });
  return id;
}

export async function cancel(rows: Rows, machineId: string, commandId: string, at: string): Promise<void> {
  await rows.commands.update(commandId, { state: "cancelled", updatedAt: at });
  await rows.log.append(machineId, at, "command-cancelled", { command: commandId });
}

/** Leases one command: for `leaseMs`, or until its fixed end (a maintenance run's deadline). */
export async function leaseCommand(
  rows: Rows,
  machineId: string,
  command: CommandRecord,
  when: Date,
  leaseMs: number,
): Promise<{ leaseId: string; expiresAt: string; leaseMs: number }> {
  const at = when.toISOString();
  const leaseId = randomUUID();
  const expiresAt = command.leaseUntil ?? new Date(when.getTime() + leaseMs).toISOString();
  await rows.commands.update(command.id, {
    state: "leased",
    leaseId,
    leaseExpiresAt: expiresAt,
    attempts: command.attempts + 1,
    updatedAt: at,
  });
  await rows.log.append(machineId, at, "command-leased", {
    command: command.id,
    kind: command.kind,
    lease: leaseId,
    expiresAt,
  });
  return { leaseId, expiresAt, leaseMs: Math.max(1, Date.parse(expiresAt) - when.getTime()) };
}

/** The machine's leased command waiting for its installed OS to call home, if any. */
export async function awaitingCallHome(rows: Rows, machineId: string): Promise<CommandRecord | undefined> {
  return (await rows.commands.pending(machineId)).find(
    (command) => command.state === "leased" && command.kind === "boot-installed",
  );
}
