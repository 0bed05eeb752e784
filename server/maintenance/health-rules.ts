// Which health rules of the policy watch a machine, and whether a report puts each beyond its
// threshold (pure). The store latches a crossing so a rule fires once until the figure comes back.
import type { HealthFigures, HealthRule, Inventory, Policy } from "../../protocol/index.js";
import type { OperatorFacts } from "../../protocol/policy/facts.js";
import { compileCondition, FactTable } from "../../protocol/policy/match.js";

export interface HealthReading {
  rule: HealthRule;
  value: number;
  beyond: boolean;
}

/** True when the value is past the rule's threshold (below `below`, or above `above`). */
export function beyondThreshold(rule: HealthRule, value: number): boolean {
  return rule.below !== undefined ? value < rule.below : rule.above !== undefined && value > rule.above;
}

/** The readings of the rules that watch this machine and whose figure the report carries. */
export function readHealth(
  policy: Policy,
  inventory: Inventory | null,
  figures: HealthFigures,
  operator?: OperatorFacts,
): HealthReading[] {
  const table = new FactTable();
  const rules = (policy.health ?? []).map((rule) => ({
    rule,
    conditions: rule.match.map((condition) => compileCondition(condition, table)),
  }));
  const facts = inventory ? table.factsOf(inventory, operator) : undefined;
  const readings: HealthReading[] = [];
  for (const { rule, conditions } of rules) {
    const value = figures[rule.figure];
    if (value === undefined) continue;
    const watched = conditions.every((condition) => facts !== undefined && condition.holds(facts));
    if (watched) readings.push({ rule, value, beyond: beyondThreshold(rule, value) });
  }
  return readings;
}
