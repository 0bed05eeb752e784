// Drift after a policy change: what a new policy version does to machines that already have a plan.
// A machine that has not started installing is re-planned; an installed one is left alone and listed as
// drift until an operator reinstalls it (`bootwright expect <id> installed --replan`).
import * as z from "zod";

/** Which plan: the rule that gave it, its hash and the policy version it came from. */
export const PlanRef = z.strictObject({
  rule: z.string(),
  /** "sha256:<hex>" over the plan's canonical JSON (server/policy/resolve.ts planHash). */
  planHash: z.string(),
  /** Null for a plan stored before plans recorded their policy version. */
  policyVersion: z.number().int().positive().nullable(),
});
export type PlanRef = z.infer<typeof PlanRef>;

/** An installed machine whose plan the current policy would change: nothing is done to it. */
export const Drift = z.strictObject({
  machineId: z.string(),
  /** The plan it was installed with. */
  runs: PlanRef,
  /** What the current policy gives it; null when no rule matches it any more. */
  wouldGet: PlanRef.nullable(),
  /** "runs plan A from rule r1, policy v7 gives plan B from rule r2". */
  message: z.string(),
});
export type Drift = z.infer<typeof Drift>;

/** A machine that had not started installing, re-planned by a new policy version. */
export const Replan = z.strictObject({
  machineId: z.string(),
  from: PlanRef,
  /** Null when no rule of the new policy matches it: its plan is dropped and it waits, unplanned. */
  to: PlanRef.nullable(),
  message: z.string(),
});
export type Replan = z.infer<typeof Replan>;

/** POST /v1/policy/dry-run: what setting this policy would do; nothing was changed. */
export const PolicyDryRun = z.strictObject({
  /** The version the policy would get (the current one + 1). */
  policyVersion: z.number().int().positive(),
  rules: z.number().int().nonnegative(),
  replan: z.array(Replan),
  drift: z.array(Drift),
});
export type PolicyDryRun = z.infer<typeof PolicyDryRun>;
