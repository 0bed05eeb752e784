// Policy resolution (pure): a policy compiled once per version (conditions into closures over fact
// slots, rules filed by their most selective fact, each plan's hash), then the first rule whose
// conditions all hold gives a machine its plan; explain says why, rule by rule, with the same
// compiled conditions. A machine no rule matches is a result ("no-policy"), not an error.
import { createHash } from "node:crypto";
import type { Explanation, Inventory, PlanSpec, Policy, Rule, RuleTrace } from "../../protocol/index.js";
import { canonicalJson } from "../fingerprint.js";
import type { OperatorFacts } from "./facts.js";
import {
  compileCondition,
  describeFailure,
  FactTable,
  firstFailure,
  type CompiledCondition,
  type MachineFacts,
} from "./match.js";
import { firstMatching, indexRules, type RuleIndex } from "./rule-index.js";

export type Resolution =
  | { kind: "matched"; rule: string; ruleIndex: number; plan: PlanSpec; planHash: string }
  | { kind: "no-policy"; explanation: Explanation };

/** "sha256:<hex>" over the plan's canonical JSON: one plan, one hash, whatever the key order in the file. */
export function planHash(plan: PlanSpec): string {
  return `sha256:${createHash("sha256").update(canonicalJson(plan)).digest("hex")}`;
}

interface CompiledRule {
  rule: Rule;
  conditions: CompiledCondition[];
  planHash: string;
}

export interface CompiledPolicy {
  readonly compiled: true;
  policy: Policy;
  facts: FactTable;
  rules: CompiledRule[];
  index: RuleIndex;
}

export function compilePolicy(policy: Policy): CompiledPolicy {
  const facts = new FactTable();
  const rules = policy.rules.map((rule) => ({
    rule,
    conditions: rule.match.map((condition) => compileCondition(condition, facts)),
    planHash: planHash(rule.plan),
  }));
  return { compiled: true, policy, facts, rules, index: indexRules(rules.map((r) => r.conditions)) };
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
  const compiledPolicy = compiled(policy);
  const { rules, index } = compiledPolicy;
  const facts = compiledPolicy.facts.factsOf(inventory, operator);
  const matched = firstMatching(
    index,
    facts,
    (i) => rules[i] !== undefined && firstFailure(rules[i].conditions, facts) === -1,
  );
  const entry = rules[matched];
  if (!entry) return { kind: "no-policy", explanation: explainWith(compiledPolicy, facts) };
  return {
    kind: "matched",
    rule: entry.rule.name,
    ruleIndex: matched,
    plan: entry.rule.plan,
    planHash: entry.planHash,
  };
}

/** Each rule in order up to the one that matches: the first condition that failed, with the machine's value. */
export function explain(
  policy: Policy | CompiledPolicy,
  inventory: Inventory,
  operator?: OperatorFacts,
): Explanation {
  const compiledPolicy = compiled(policy);
  return explainWith(compiledPolicy, compiledPolicy.facts.factsOf(inventory, operator));
}

function explainWith({ rules }: CompiledPolicy, facts: MachineFacts): Explanation {
  const traces: RuleTrace[] = [];
  for (const [index, entry] of rules.entries()) {
    const failedAt = firstFailure(entry.conditions, facts);
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
