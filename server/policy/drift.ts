// What a policy version does to machines that already have a plan (pure): which re-plan, which drift,
// and the sentences that say so. The store side (policy-change.ts) applies the re-plans.
import type { Drift, Machine, PlanRef, PlanSpec, Replan } from "../../protocol/index.js";
import { resolvePolicy, type CompiledPolicy } from "./resolve.js";

/**
 * Whether a new policy version re-plans a machine in this category. Only `planned`: its stored plan is
 * what its agent will be built for, and nothing of it has started (leasing run-agent moves it to
 * `configuring` at once). discovered / inventoried / ready (even one that carries a plan from an earlier
 * install) resolve the policy afresh when they reach `planned`; failed ones when retried. configuring,
 * imaging and capturing are writing the disk with an agent built for the old plan: changing the plan
 * under them would mix two plans, so they finish, and then show as drift. installed and maintenance
 * run a system: reinstalling is the operator's call (`expect <id> installed --replan`).
 */
export function replansOnPolicyChange(category: Machine["category"]): boolean {
  return category === "planned";
}

/** Whether a machine in this category shows as drift when the policy would change its plan. */
export function driftsOnPolicyChange(category: Machine["category"]): boolean {
  return category === "installed";
}

/** A plan the policy gives, with what the machine would store. */
export interface NewPlan {
  ref: PlanRef;
  plan: PlanSpec;
}

/** The plan a machine would get from `policy` (version `version`), or null when no rule matches it. */
export function wouldGet(policy: CompiledPolicy, version: number, machine: Machine): NewPlan | null {
  if (!machine.inventory) return null;
  const resolution = resolvePolicy(policy, machine.inventory, { tags: machine.tags });
  if (resolution.kind === "no-policy") return null;
  return {
    ref: { rule: resolution.rule, planHash: resolution.planHash, policyVersion: version },
    plan: resolution.plan,
  };
}

/** The machine's stored plan as a reference; undefined when it has none. */
export function planRefOf(machine: Machine): PlanRef | undefined {
  if (!machine.plan) return undefined;
  return {
    rule: machine.plan.rule,
    planHash: machine.plan.planHash,
    policyVersion: machine.plan.policyVersion ?? null,
  };
}

/** Whether the new plan differs from the stored one: another plan, or the same plan from another rule. */
export function planChanges(from: PlanRef, to: NewPlan | null): boolean {
  return to === null || to.ref.planHash !== from.planHash || to.ref.rule !== from.rule;
}

/** "sha256:0123456789ab": enough of a hash to tell plans apart in a sentence. */
function shortHash(hash: string): string {
  const [algorithm, hex] = hash.includes(":") ? hash.split(":", 2) : ["", hash];
  return `${algorithm ? `${algorithm}:` : ""}${(hex ?? "").slice(0, 12)}`;
}

function planWords(ref: PlanRef): string {
  return `plan ${shortHash(ref.planHash)} from rule ${ref.rule}`;
}

function versionWords(ref: PlanRef): string {
  return ref.policyVersion === null ? "an earlier policy" : `policy v${ref.policyVersion}`;
}

/** "runs plan A from rule r1, policy v7 gives plan B from rule r2". */
export function driftMessage(runs: PlanRef, gets: PlanRef | null, version: number): string {
  return gets === null
    ? `runs ${planWords(runs)}, policy v${version} gives it no plan (no rule matches)`
    : `runs ${planWords(runs)}, policy v${version} gives ${planWords(gets)}`;
}

/** "plan A from rule r1 (policy v1) → plan B from rule r2 (policy v2)". */
export function replanMessage(from: PlanRef, to: PlanRef | null, version: number): string {
  return to === null
    ? `${planWords(from)} (${versionWords(from)}) dropped: no rule of policy v${version} matches; it waits unplanned`
    : `${planWords(from)} (${versionWords(from)}) → ${planWords(to)} (policy v${version})`;
}

/** One machine's drift under `policy`, or undefined when it does not drift (or cannot: no plan yet). */
export function driftOf(policy: CompiledPolicy, version: number, machine: Machine): Drift | undefined {
  const runs = planRefOf(machine);
  if (!runs || !machine.inventory || !driftsOnPolicyChange(machine.category)) return undefined;
  const gets = wouldGet(policy, version, machine);
  if (!planChanges(runs, gets)) return undefined;
  const ref = gets?.ref ?? null;
  return { machineId: machine.id, runs, wouldGet: ref, message: driftMessage(runs, ref, version) };
}

/** A re-plan with the plan to store (null: none matches). */
export type PlannedReplan = Replan & { plan: PlanSpec | null };

/** One machine's re-plan under a new policy version, or undefined when its plan stays as it is. */
export function replanOf(
  policy: CompiledPolicy,
  version: number,
  machine: Machine,
): PlannedReplan | undefined {
  const from = planRefOf(machine);
  if (!from || !machine.inventory || !replansOnPolicyChange(machine.category)) return undefined;
  const gets = wouldGet(policy, version, machine);
  if (!planChanges(from, gets)) return undefined;
  const to = gets?.ref ?? null;
  return {
    machineId: machine.id,
    from,
    to,
    message: replanMessage(from, to, version),
    plan: gets?.plan ?? null,
  };
}

/** What policy version `version` does to these machines: re-plans and drift, each in machine id order. */
export function policyEffects(
  policy: CompiledPolicy,
  version: number,
  machines: readonly Machine[],
): { replan: PlannedReplan[]; drift: Drift[] } {
  const sorted = [...machines].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const replan: PlannedReplan[] = [];
  const drift: Drift[] = [];
  for (const machine of sorted) {
    const r = replanOf(policy, version, machine);
    if (r) replan.push(r);
    const d = driftOf(policy, version, machine);
    if (d) drift.push(d);
  }
  return { replan, drift };
}
