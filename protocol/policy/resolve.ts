// Policy resolution (pure): a policy compiled once per version (conditions into closures over fact
// slots, rules filed by their most selective fact, each plan's hash), then the first rule whose
// conditions all hold gives a machine its plan; explain says why, rule by rule, with the same
// compiled conditions. A machine no rule matches is a result ("no-policy"), not an error.
// Written once for both sides: the server resolves an online machine, the loader an offline one
// (agent/loader/offline-run.ts). protocol/ has no I/O, so each side hands in its own sha256.
import type { Explanation, Inventory, PlanSpec, Policy, Rule, RuleTrace } from "../index.js";
import { canonicalJson } from "./canonical-json.js";
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

/** sha256 of UTF-8 text as lowercase hex: node:crypto on either side. */
export type Sha256Hex = (text: string) => string;

/** "sha256:<hex>" over the plan's canonical JSON: one plan, one hash, whatever the key order in the file. */
export function planHashWith(plan: PlanSpec, sha256Hex: Sha256Hex): string {
  return `sha256:${sha256Hex(canonicalJson(plan))}`;
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

export function compilePolicyWith(policy: Policy, sha256Hex: Sha256Hex): CompiledPolicy {
  const facts = new FactTable();
  const rules = policy.rules.map((rule) => ({
    rule,
    conditions: rule.match.map((condition) => compileCondition(condition, facts)),
    planHash: planHashWith(rule.plan, sha256Hex),
  }));
  return { compiled: true, policy, facts, rules, index: indexRules(rules.map((r) => r.conditions)) };
}

/**
 * First match wins. Compile once when resolving many machines against one policy; pass the machine's
 * tags (`operator`) when rules may test them: without, it has none.
 */
export function resolveCompiled(
  compiledPolicy: CompiledPolicy,
  inventory: Inventory,
  operator?: OperatorFacts,
): Resolution {
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
export function explainCompiled(
  compiledPolicy: CompiledPolicy,
  inventory: Inventory,
  operator?: OperatorFacts,
): Explanation {
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
