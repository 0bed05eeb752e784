// Policy resolution (pure): the first rule whose conditions all hold gives the machine its plan; explain
// says why, rule by rule. A machine no rule matches is a result ("no-policy"), not an error.
import { createHash } from "node:crypto";
import type { Explanation, Inventory, PlanSpec, Policy, RuleTrace } from "../../protocol/index.js";
import { canonicalJson } from "../fingerprint.js";
import type { OperatorFacts } from "./facts.js";
import { compilePolicy, describeFailure, firstFailure, MachineFacts, type CompiledPolicy } from "./match.js";

export type Resolution =
  | { kind: "matched"; rule: string; ruleIndex: number; plan: PlanSpec; planHash: string }
  | { kind: "no-policy"; explanation: Explanation };

/** "sha256:<hex>" over the plan's canonical JSON: one plan, one hash, whatever the key order in the file. */
export function planHash(plan: PlanSpec): string {
  return `sha256:${createHash("sha256").update(canonicalJson(plan)).digest("hex")}`;
}

function compiled(policy: Policy | CompiledPolicy): CompiledPolicy {
  return "compiled" in policy ? policy : compilePolicy(policy);
}

/**
 * First match wins. Pass a CompiledPolicy when resolving many machines against one policy, and the
 * machine's tags (`operator`) when rules may test them: without, it has none.
 */
export function resolvePolicy(
  policy: Policy | CompiledPolicy,
  inventory: Inventory,
  operator?: OperatorFacts,
): Resolution {
  const { rules } = compiled(policy);
  const facts = new MachineFacts(inventory, operator);
  for (let i = 0; i < rules.length; i++) {
    const entry = rules[i];
    if (entry && firstFailure(entry, facts) === -1)
      return {
        kind: "matched",
        rule: entry.rule.name,
        ruleIndex: i,
        plan: entry.rule.plan,
        planHash: planHash(entry.rule.plan),
      };
  }
  return { kind: "no-policy", explanation: explain(policy, inventory, operator) };
}

/** Each rule in order up to the one that matches: the first condition that failed, with the machine's value. */
export function explain(
  policy: Policy | CompiledPolicy,
  inventory: Inventory,
  operator?: OperatorFacts,
): Explanation {
  const facts = new MachineFacts(inventory, operator);
  const traces: RuleTrace[] = [];
  for (const [index, entry] of compiled(policy).rules.entries()) {
    const failedAt = firstFailure(entry, facts);
    const condition = entry.conditions[failedAt];
    if (failedAt === -1 || !condition) {
      traces.push({ index, name: entry.rule.name, matched: true, failed: null });
      break;
    }
    traces.push({
      index,
      name: entry.rule.name,
      matched: false,
      failed: describeFailure(condition, failedAt, facts),
    });
  }
  return { rules: traces };
}
