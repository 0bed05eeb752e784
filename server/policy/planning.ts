// Planning inside a transaction: the plan the stored policy gives a machine, stored when it moves to
// `planned`; and the check that a disk's marker names the very plan the policy resolves (seed 003).
import { checkTransition, type InstalledMarker, type Machine } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { setCategory } from "../queue/steps.js";
import { resolvePolicy } from "./resolve.js";
import { readStoredPolicy } from "./stored-policy.js";

export type PolicyPlan =
  { ok: true; plan: NonNullable<Machine["plan"]>; policyVersion: number } | { ok: false; reason: string };

/** The plan the stored policy gives this machine, or the reason there is none. */
export async function planFromPolicy(rows: Rows, machine: Machine): Promise<PolicyPlan> {
  if (!machine.inventory) return { ok: false, reason: "no inventory yet" };
  const stored = await readStoredPolicy(rows);
  if (!stored) return { ok: false, reason: "no policy is set (bootwright policy set <file>)" };
  if (!stored.ok)
    return { ok: false, reason: `the stored policy (version ${stored.version}) does not parse` };
  const resolution = resolvePolicy(stored.compiled, machine.inventory, { tags: machine.tags });
  if (resolution.kind === "no-policy")
    return {
      ok: false,
      reason: `no policy rule matches (policy version ${stored.version}): see bootwright policy explain`,
    };
  return {
    ok: true,
    plan: {
      rule: resolution.rule,
      planHash: resolution.planHash,
      plan: resolution.plan,
      policyVersion: stored.version,
    },
    policyVersion: stored.version,
  };
}

/**
 * The server's own step toward a difference: resolve the stored policy for this machine. A match
 * stores the plan and moves the machine to `planned`; anything else is the reason it cannot move.
 */
export async function resolvePlan(
  rows: Rows,
  machine: Machine,
  at: string,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const resolved = await planFromPolicy(rows, machine);
  if (!resolved.ok) return resolved;
  const { plan } = resolved;
  await rows.machines.update(machine.id, { plan });
  await rows.log.append(machine.id, at, "planned", {
    rule: plan.rule,
    planHash: plan.planHash,
    image: plan.plan.image,
    policyVersion: resolved.policyVersion,
  });
  await setCategory(rows, machine, "planned", at, `policy rule ${plan.rule}`);
  return { ok: true };
}

/**
 * Seed 003 claim 14: a machine whose disk carries the marker of the very plan the policy resolves for
 * it already runs that plan: it becomes `installed` and boots from its disk, with no reinstall.
 */
export async function checkInstalledMarker(
  rows: Rows,
  machine: Machine,
  marker: InstalledMarker,
  at: string,
): Promise<void> {
  const resolved = await planFromPolicy(rows, machine);
  if (
    !resolved.ok ||
    resolved.plan.planHash !== marker.planHash ||
    !checkTransition(machine.category, "installed").ok
  ) {
    await rows.log.append(machine.id, at, "marker-differs", {
      marker: marker.planHash,
      resolved: resolved.ok ? resolved.plan.planHash : null,
      category: machine.category,
    });
    return;
  }
  await rows.machines.update(machine.id, { plan: resolved.plan });
  await rows.log.append(machine.id, at, "already-installed", {
    planHash: marker.planHash,
    image: marker.image,
    partition: marker.partition,
  });
  await setCategory(rows, machine, "installed", at, "its disk carries the marker of its resolved plan");
  await rows.machines.setInstalled(machine.id, {
    image: marker.image,
    planHash: marker.planHash,
    os: null,
    at,
  });
}
