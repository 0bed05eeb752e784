// An inventory post, decided inside its transaction (issue 17): which machine it is (its identity, and
// the split when a different machine reports the same UUID), whether it may enroll (the policy's mode,
// hardware that changed under a known identity, a live lease of the machine's own agent), and then
// either the inventory recorded (server/queue/enrollment.ts) or the reason it waits, written on the
// machine for the boot list. A refusal issues no credential and revokes none.
import type { CommandKind, Inventory, Machine, MachineEnrollment, Policy } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { configurationFingerprint } from "../fingerprint.js";
import { readStoredPolicy } from "../policy/stored-policy.js";
import { findSameMachine, newMachine, recordInventory } from "../queue/enrollment.js";
import { mustGet } from "../queue/steps.js";
import { resolveIdentity, splitSharedUuid } from "./identity.js";
import {
  admits,
  compareEvidence,
  decideEnrollment,
  evidenceOf,
  knownEvidence,
  leaseEndsInReboot,
  type EnrollmentDecision,
} from "./rules.js";

export type RefusalCode = Extract<EnrollmentDecision, { kind: "refuse" }>["code"];

export type EnrollmentOutcome =
  | { kind: "enrolled"; machine: Machine }
  | { kind: "refused"; code: RefusalCode; machineId: string; reason: string };

/**
 * The stored policy's enrollment settings. A stored policy that no longer parses (it was checked when
 * set: only a downgrade could do this) admits nobody by itself: better a lab waiting for approvals than
 * a site with an allowlist letting everyone in.
 */
async function enrollmentPolicy(rows: Rows): Promise<Pick<Policy, "enrollment" | "allowlist"> | undefined> {
  const stored = await readStoredPolicy(rows);
  if (!stored) return undefined;
  return stored.ok ? stored.policy : { enrollment: "approve" };
}

/** A live lease of the machine's agent on a command that does not end in a reboot (rules.ts says why). */
async function liveLease(
  rows: Rows,
  machineId: string,
  at: string,
): Promise<{ kind: CommandKind; until: string } | undefined> {
  for (const command of await rows.commands.pending(machineId))
    if (
      command.state === "leased" &&
      command.leaseExpiresAt !== null &&
      command.leaseExpiresAt > at &&
      !leaseEndsInReboot(command.kind)
    )
      return { kind: command.kind, until: command.leaseExpiresAt };
  return undefined;
}

/** Writes why the machine waits (once per reason: the loader asks again every few seconds). */
async function recordRefusal(
  rows: Rows,
  inventory: Inventory,
  at: string,
  target: { id: string; existing: Machine | undefined; sharedUuid: string | null },
  refusal: Extract<EnrollmentDecision, { kind: "refuse" }>,
): Promise<void> {
  const { id, existing } = target;
  const enrollment: MachineEnrollment = {
    state: refusal.state,
    reason: refusal.reason,
    sharedUuid: target.sharedUuid ?? existing?.enrollment.sharedUuid ?? null,
  };
  if (!existing) {
    // A new machine waits `discovered`, its inventory kept so an operator can see and select it.
    await rows.machines.insert({
      ...newMachine(id, inventory.bootMac, at, inventory, enrollment),
      category: "discovered",
    });
    await rows.log.append(id, at, "discovered", {
      mac: inventory.bootMac,
      uuid: inventory.system.uuid,
      via: "inventory",
    });
  } else if (refusal.state === "awaiting-approval") {
    // Never admitted: its latest inventory is what the operator approves.
    await rows.machines.update(id, {
      inventory,
      fingerprint: configurationFingerprint(inventory),
      lastSeenAt: at,
      enrollment,
    });
  } else if (
    existing.enrollment.state !== enrollment.state ||
    existing.enrollment.reason !== enrollment.reason
  )
    // Admitted before: what it enrolled with stays as it was; only the reason it waits is written.
    await rows.machines.update(id, { enrollment });
  if (existing?.enrollment.state !== enrollment.state || existing.enrollment.reason !== enrollment.reason)
    await rows.log.append(id, at, "enrollment-refused", {
      code: refusal.code,
      reason: refusal.reason,
      mac: inventory.bootMac,
      serial: inventory.system.serial,
    });
}

/** The loader posted an inventory: enroll it, or say why it waits. */
export async function enrollInventory(
  rows: Rows,
  inventory: Inventory,
  when: Date,
): Promise<EnrollmentOutcome> {
  const at = when.toISOString();
  const policy = await enrollmentPolicy(rows);
  let identity = await resolveIdentity(rows, inventory.system.uuid, inventory.bootMac);
  let existing = await findSameMachine(rows, identity.id, inventory.bootMac, at);
  let comparison = existing
    ? compareEvidence(knownEvidence(existing), evidenceOf(inventory), existing.inventory !== null)
    : undefined;
  let splitFrom: string | undefined;
  if (existing && comparison?.kind === "different" && identity.id !== inventory.bootMac) {
    // Another machine reports this UUID. Moving the machine known by it while its agent runs a step
    // would cut that agent off mid-step (its routes name the UUID): the newcomer waits for the lease.
    const lease = await liveLease(rows, existing.id, at);
    if (lease)
      return {
        kind: "refused",
        code: "enrollment_held",
        machineId: inventory.bootMac,
        reason: `enrollment held: machine ${existing.id} reports the same UUID and its agent holds a live ${lease.kind} lease until ${lease.until}; the two are told apart when it ends`,
      };
    const moved = await splitSharedUuid(rows, existing, inventory, comparison.what, at);
    splitFrom = moved.id;
    identity = { id: inventory.bootMac, sharedUuid: existing.id };
    existing = await findSameMachine(rows, identity.id, inventory.bootMac, at);
    comparison = existing
      ? compareEvidence(knownEvidence(existing), evidenceOf(inventory), false)
      : undefined;
  }
  const decision = decideEnrollment({
    state: existing?.enrollment.state,
    admission: admits(policy, inventory),
    comparison,
    liveLease: existing ? await liveLease(rows, existing.id, at) : undefined,
  });
  const target = { id: identity.id, existing, sharedUuid: identity.sharedUuid };
  let enrolled: Machine | undefined;
  if (decision.kind === "refuse") {
    await recordRefusal(rows, inventory, at, target, decision);
  } else {
    const before = existing?.enrollment;
    enrolled = await recordInventory(rows, inventory, when, target);
    // The usual path (pending → enrolled, enrolled again) adds nothing to the log; a wait that ends does.
    if (before && before.state !== "enrolled" && before.state !== "pending")
      await rows.log.append(identity.id, at, "enrollment-admitted", {
        from: before.state,
        reason: before.reason,
        changed: comparison?.kind === "same" ? null : (comparison?.what ?? null),
      });
  }
  if (splitFrom !== undefined)
    await rows.log.append(identity.id, at, "identity", {
      uuid: identity.sharedUuid,
      to: identity.id,
      reason: "shared-uuid",
      other: splitFrom,
    });
  if (decision.kind === "refuse")
    return { kind: "refused", code: decision.code, machineId: identity.id, reason: decision.reason };
  // What follows recordInventory writes log lines only: the machine it returned is the machine as it is.
  return { kind: "enrolled", machine: enrolled ?? (await mustGet(rows, identity.id)) };
}
