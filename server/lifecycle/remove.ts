// Deleting a machine (issue 18): refused while something is running on it; otherwise its row and queue
// go, its credentials are revoked (its loader and installed OS get 401 at once), and its step log stays
// with a last entry saying who deleted it. The next boot of that hardware enrolls it as a new machine.
import type { MachineDeleted, MaintenanceRun } from "../../protocol/index.js";
import type { CommandRecord, Rows } from "../db/rows.js";

export type DeleteOutcome =
  | ({ kind: "deleted" } & MachineDeleted)
  | { kind: "busy"; machineId: string; reason: string }
  | { kind: "unknown" };

/** Categories in which an install is under way, as long as its queue still holds its next step. */
const INSTALLING = new Set(["configuring", "imaging", "capturing"]);

/**
 * Why the machine cannot go now, or undefined. A live lease means its agent (or its installed OS, for
 * boot-installed) is expected to report: deleting would strand it mid-step. An install is in flight
 * from its first agent step until it calls home; before that (its whole queue merely queued on an
 * inventoried machine) nothing runs, and an install whose queue was emptied (its expectation cleared)
 * is not in flight any more. A lease that ran out is the sweep's to fail.
 */
export function busyReason(
  category: string,
  pending: readonly CommandRecord[],
  run: MaintenanceRun | undefined,
  at: string,
): string | undefined {
  const leased = pending.find(
    (c) => c.state === "leased" && (c.leaseExpiresAt === null || c.leaseExpiresAt >= at),
  );
  if (leased?.kind === "boot-installed")
    return `it is rebooting into its install: boot-installed is leased until ${String(leased.leaseExpiresAt)}`;
  if (leased) return `its agent holds a live ${leased.kind} lease until ${String(leased.leaseExpiresAt)}`;
  if (run) return `its maintenance run ${run.id} is ${run.state}`;
  const next = pending[0];
  if (INSTALLING.has(category) && next)
    return `an install is in flight: it is ${category} and ${next.kind} is ${next.state}`;
  return undefined;
}

/** Deletes the machine in the caller's transaction, or says why not; `by` names the operator. */
export async function deleteMachine(rows: Rows, id: string, by: string, at: string): Promise<DeleteOutcome> {
  const machine = await rows.machines.lock(id);
  if (machine === undefined) return { kind: "unknown" };
  if (machine === "busy")
    return { kind: "busy", machineId: id, reason: "another server is changing it right now; try again" };
  const reason = busyReason(
    machine.category,
    await rows.commands.pending(id),
    await rows.runs.active(id),
    at,
  );
  if (reason !== undefined) return { kind: "busy", machineId: id, reason };
  const credentialsRevoked =
    (await rows.credentials.revokeOthers(id, "loader", null, at)) +
    (await rows.credentials.revokeOthers(id, "os", null, at));
  // A health rule latched on it would otherwise stay silent for the next machine of this id.
  for (const rule of await rows.health.latched(id)) await rows.health.unlatch(id, rule);
  const { commandsRemoved } = await rows.machines.remove(id);
  await rows.log.append(id, at, "deleted", {
    by,
    category: machine.category,
    expected: machine.expected,
    bootMac: machine.bootMac,
    credentialsRevoked,
    commandsRemoved,
  });
  return { kind: "deleted", machineId: id, credentialsRevoked, commandsRemoved };
}
