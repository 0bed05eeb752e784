// A new policy version inside a transaction: stored, then every machine that has not started installing
// re-planned (its step log says from which plan to which); installed machines are left alone and show
// as drift. Also the dry run (the same decision, nothing written), the drift list, and the reinstall of
// a drifted machine with its new plan (`expect <id> installed --replan`).
import type {
  Drift,
  Machine,
  Policy,
  PolicyDryRun,
  PolicyFormat,
  Replan,
  StoredPolicy,
} from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { ServerError } from "../errors.js";
import { reconcileMachine, setExpected } from "../queue/reconcile.js";
import { setCategory } from "../queue/steps.js";
import {
  driftOf,
  planChanges,
  planRefOf,
  policyEffects,
  replanOf,
  replansOnPolicyChange,
  wouldGet,
  type PlannedReplan,
} from "./drift.js";
import { parsePolicy } from "./load.js";
import { compilePolicy, type CompiledPolicy } from "./resolve.js";
import { readStoredPolicy } from "./stored-policy.js";

/** The text was validated by the caller (the route, the start-up file); failing here is a server bug. */
function parseValidated(source: string, format: PolicyFormat, what: string): Policy {
  const parsed = parsePolicy(source, format);
  if (!parsed.ok)
    throw new ServerError(
      `${what} does not parse: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    );
  return parsed.policy;
}

/** The stored policy, compiled; undefined before one is set. */
async function storedPolicy(rows: Rows): Promise<{ policy: CompiledPolicy; version: number } | undefined> {
  const stored = await readStoredPolicy(rows);
  if (!stored) return undefined;
  if (!stored.ok)
    throw new ServerError(
      `stored policy version ${stored.version} does not parse: ${stored.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    );
  return { policy: stored.compiled, version: stored.version };
}

/** A re-plan as the wire shows it: without the plan itself. */
function wireReplan(replan: PlannedReplan): Replan {
  return { machineId: replan.machineId, from: replan.from, to: replan.to, message: replan.message };
}

/** Writes one re-plan: the new plan, or (none matches) back to `inventoried` with no plan. */
async function applyReplan(
  rows: Rows,
  machine: Machine,
  replan: PlannedReplan,
  version: number,
  at: string,
): Promise<void> {
  const { plan, to } = replan;
  await rows.machines.update(machine.id, {
    plan: to && plan ? { rule: to.rule, planHash: to.planHash, plan, policyVersion: version } : null,
  });
  await rows.log.append(machine.id, at, "replanned", { ...wireReplan(replan), image: plan?.image ?? null });
  if (to) return;
  // planned → inventoried is a legal move: it then goes the way of any machine no rule matches (its disk
  // check, then a blocked resolve-policy) instead of installing a plan the policy no longer gives.
  await setCategory(rows, machine, "inventoried", at, `no rule of policy v${version} matches it`);
  await reconcileMachine(rows, machine.id, at);
}

/**
 * Stores the policy as its next version and re-plans the machines that have not started installing
 * (drift.ts says which). Each is locked first, so no server leases its agent while its plan changes.
 */
export async function changePolicy(
  rows: Rows,
  source: string,
  format: PolicyFormat,
  at: string,
): Promise<{ stored: StoredPolicy; replanned: Replan[]; drift: Drift[] }> {
  const policy = compilePolicy(parseValidated(source, format, "the new policy"));
  const stored = await rows.policy.put(source, format, at);
  // In id order, as the bulk expectation locks, so two transactions never wait on each other in a ring.
  const candidates = (await rows.machines.list())
    .filter((m) => m.plan !== null && replansOnPolicyChange(m.category))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const replanned: Replan[] = [];
  for (const candidate of candidates) {
    const machine = await rows.machines.lock(candidate.id);
    if (machine === undefined || machine === "busy") continue;
    const replan = replanOf(policy, stored.version, machine);
    if (!replan) continue;
    await applyReplan(rows, machine, replan, stored.version, at);
    replanned.push(wireReplan(replan));
  }
  const drift = policyEffects(policy, stored.version, await rows.machines.list()).drift;
  return { stored, replanned, drift };
}

/** What setting this policy would do, with nothing written: not the policy, not its version. */
export async function dryRunPolicy(rows: Rows, source: string, format: PolicyFormat): Promise<PolicyDryRun> {
  const parsed = parseValidated(source, format, "the policy to try");
  const version = ((await rows.policy.get())?.version ?? 0) + 1;
  const effects = policyEffects(compilePolicy(parsed), version, await rows.machines.list());
  return {
    policyVersion: version,
    rules: parsed.rules.length,
    replan: effects.replan.map(wireReplan),
    drift: effects.drift,
  };
}

/** Installed machines whose plan the stored policy would change: the difference list's drift part. */
export async function currentDrift(rows: Rows): Promise<Drift[]> {
  const stored = await storedPolicy(rows);
  if (!stored) return [];
  return policyEffects(stored.policy, stored.version, await rows.machines.list()).drift;
}

export type ReinstallOutcome = { kind: "replanned"; replan: Replan } | { kind: "refused"; reason: string };

/**
 * `expect <id> installed --replan`: a drifted installed machine takes the plan the policy now gives it
 * and goes installed → planned, expected installed, so its queue is the install again (run-agent,
 * write-image, boot-installed); it reinstalls at its next network boot. A machine that is not installed,
 * or runs the plan the policy gives it, is refused with the reason.
 */
export async function reinstallWithNewPlan(
  rows: Rows,
  machine: Machine,
  at: string,
): Promise<ReinstallOutcome> {
  if (machine.category !== "installed")
    return {
      kind: "refused",
      reason: `machine ${machine.id} is ${machine.category}, not installed: only an installed machine drifts`,
    };
  const runs = planRefOf(machine);
  if (!runs) return { kind: "refused", reason: `machine ${machine.id} has no recorded plan to compare` };
  const stored = await storedPolicy(rows);
  if (!stored) return { kind: "refused", reason: "no policy is set (bootwright policy set <file>)" };
  const gets = wouldGet(stored.policy, stored.version, machine);
  if (!planChanges(runs, gets))
    return {
      kind: "refused",
      reason: `machine ${machine.id} runs the plan policy v${stored.version} gives it (rule ${runs.rule}): no drift`,
    };
  const drift = driftOf(stored.policy, stored.version, machine);
  if (!gets || !drift)
    return {
      kind: "refused",
      reason: `policy v${stored.version} gives machine ${machine.id} no plan (no rule matches): nothing to reinstall with`,
    };
  await rows.machines.update(machine.id, {
    plan: {
      rule: gets.ref.rule,
      planHash: gets.ref.planHash,
      plan: gets.plan,
      policyVersion: stored.version,
    },
  });
  const replan: Replan = {
    machineId: machine.id,
    from: runs,
    to: gets.ref,
    message: `reinstall: ${drift.message}`,
  };
  await rows.log.append(machine.id, at, "replanned", { ...replan, image: gets.plan.image });
  await setCategory(
    rows,
    machine,
    "planned",
    at,
    `reinstall with the plan of policy v${stored.version} (--replan)`,
  );
  const planned = await rows.machines.get(machine.id);
  if (!planned) throw new ServerError(`machine ${machine.id} vanished inside its own transaction`);
  await setExpected(rows, planned, "installed", at);
  return { kind: "replanned", replan };
}
