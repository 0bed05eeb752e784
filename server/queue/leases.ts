// Leases (seed 000): a machine asking for work gets its next command for a bounded time; a lease that
// runs out goes back to the queue, or fails the machine when its agent keeps dying on it (or when the
// installed OS or a maintenance image never reported).
import type { LeasedCommand } from "../../protocol/index.js";
import type { CommandRecord, Rows } from "../db/rows.js";
import { issueOsCredential } from "../auth/machine-credentials.js";
import { runLeased } from "../maintenance/runs.js";
import { failMachine } from "./failure.js";
import { categoryWhileRunning, leaseMsFor, retryOnExpiry, type LeaseDurations } from "./reconciler.js";
import { leaseCommand, mustGet, setCategory } from "./steps.js";

/** A command whose lease expires this many times is failed: its agent keeps dying on it. */
const MAX_LEASE_ATTEMPTS = 3;

/** Why a command whose lease ran out fails the machine (when it is not handed out again). */
function expiryError(command: CommandRecord): string {
  switch (command.kind) {
    case "boot-installed":
      return `the installed system did not call home by ${String(command.leaseExpiresAt)}: it may not boot (check its console)`;
    case "run-maintenance":
      return `the maintenance image did not report completion by ${String(command.leaseExpiresAt)}`;
    default:
      return `lease expired ${command.attempts} times: the agent never reported a result`;
  }
}

/**
 * Hands the machine's expired leases back to the queue, or fails it for one that cannot go back.
 * Returns the pending commands as they are afterwards.
 */
export async function expireLeases(rows: Rows, machineId: string, at: string): Promise<CommandRecord[]> {
  const pending = await rows.commands.pending(machineId);
  const expired = pending.filter(
    (command) => command.state === "leased" && command.leaseExpiresAt !== null && command.leaseExpiresAt < at,
  );
  // The common case, a machine asking for work with no lease run out: nothing to change, no second query.
  if (expired.length === 0) return pending;
  for (const command of expired) {
    if (command.attempts >= MAX_LEASE_ATTEMPTS || !retryOnExpiry(command.kind)) {
      const error = expiryError(command);
      await rows.commands.update(command.id, { state: "failed", error, updatedAt: at });
      await rows.log.append(machineId, at, "command-failed", {
        command: command.id,
        kind: command.kind,
        error,
      });
      await failMachine(rows, await mustGet(rows, machineId), at, error);
    } else {
      await rows.commands.update(command.id, { state: "queued", updatedAt: at });
      await rows.log.append(machineId, at, "lease-expired", {
        command: command.id,
        kind: command.kind,
        lease: command.leaseId,
        attempts: command.attempts,
      });
    }
  }
  return rows.commands.pending(machineId);
}

/**
 * The sweep: every lease that ran out, on machines that are not asking for work (one rebooted into an
 * install that never calls home is one). Returns the machines it touched.
 */
export async function expireLeasesDue(rows: Rows, when: Date): Promise<string[]> {
  const at = when.toISOString();
  const ids = await rows.commands.machinesWithExpiredLeases(at);
  const touched: string[] = [];
  for (const id of ids.sort()) {
    // Another server sweeping or serving this machine right now handles it.
    if ((await rows.machines.lock(id, { skipLocked: true })) === "busy") continue;
    await expireLeases(rows, id, at);
    touched.push(id);
  }
  return touched;
}

/** What a machine asking for work gets: a leased command, or nothing now, or no such machine. */
export type LeaseOutcome =
  { kind: "leased"; command: LeasedCommand } | { kind: "wait" } | { kind: "unknown" };

/**
 * Leases the machine's next command, first handing expired leases back to the queue. "wait" when there
 * is nothing to run, a live lease is still out, or another server holds the machine right now (the
 * loader asks again at its next poll).
 */
export async function leaseNext(
  rows: Rows,
  id: string,
  when: Date,
  durations: LeaseDurations,
): Promise<LeaseOutcome> {
  const machine = await rows.machines.lock(id, { skipLocked: true });
  if (machine === undefined) return { kind: "unknown" };
  if (machine === "busy") return { kind: "wait" };
  return leaseHead(rows, id, when, durations);
}

/**
 * Leases the head of the queue of a machine this transaction already holds locked (GET next, or a
 * result post that asked for its next command): "wait" when there is none or its lease is still out.
 */
export async function leaseHead(
  rows: Rows,
  id: string,
  when: Date,
  durations: LeaseDurations,
): Promise<Exclude<LeaseOutcome, { kind: "unknown" }>> {
  const at = when.toISOString();
  const next = (await expireLeases(rows, id, at))[0];
  if (!next || next.state === "leased") return { kind: "wait" }; // nothing to do, or its agent is still on it
  const { leaseId, expiresAt, leaseMs } = await leaseCommand(
    rows,
    id,
    next,
    when,
    leaseMsFor(next.kind, durations),
  );
  const running = categoryWhileRunning(next.kind);
  if (running) await setCategory(rows, await mustGet(rows, id), running, at, `${next.kind} started`);
  if (next.kind === "run-maintenance") await runLeased(rows, id, next.id, at);
  return { kind: "leased", command: await asLeased(rows, id, next, leaseId, expiresAt, leaseMs, at) };
}

/**
 * The lease an earlier answer to `completed`'s result gave, for a retried post: the machine's head
 * command when the same transaction leased it (same update time) and its lease is still live; else
 * nothing. Never a new lease.
 */
export async function leaseGivenAfter(
  rows: Rows,
  id: string,
  completed: CommandRecord,
  when: Date,
): Promise<LeasedCommand | null> {
  const at = when.toISOString();
  const head = (await rows.commands.pending(id))[0];
  if (
    head?.state !== "leased" ||
    head.leaseId === null ||
    head.leaseExpiresAt === null ||
    head.leaseExpiresAt <= at ||
    head.updatedAt !== completed.updatedAt
  )
    return null;
  const leaseMs = Date.parse(head.leaseExpiresAt) - when.getTime();
  return asLeased(rows, id, head, head.leaseId, head.leaseExpiresAt, leaseMs, at);
}

/** A leased command as the agent receives it, with what its kind needs beside the lease. */
async function asLeased(
  rows: Rows,
  id: string,
  command: CommandRecord,
  leaseId: string,
  expiresAt: string,
  leaseMs: number,
  at: string,
): Promise<LeasedCommand> {
  // The OS this image installs gets its own credential, which the agent writes into the marker (a
  // retried answer issues another: earlier ones keep working until one is used).
  const osCredential = command.kind === "write-image" ? await issueOsCredential(rows, id, at) : undefined;
  // An erase goes the way the release asked (quick when it named none).
  const erase =
    command.kind === "erase-disks" ? { mode: (await rows.releases.get(id))?.erase ?? "quick" } : undefined;
  // The agent must finish within 80% of the lease, leaving the rest for posting the result.
  return {
    id: command.id,
    kind: command.kind,
    leaseId,
    leaseExpiresAt: expiresAt,
    timeoutMs: Math.max(1, Math.floor(leaseMs * 0.8)),
    ...(osCredential === undefined ? {} : { osCredential }),
    ...(erase === undefined ? {} : { erase }),
  };
}
