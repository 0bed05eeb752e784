// Which rules can match a machine, in rule order, without testing every rule: each rule that has an
// equals / in condition is filed under that condition's values (the most selective such condition), so
// a machine only tries the rules filed under its own value of the fact plus the rules with no such
// condition. A rule filed under values the machine lacks cannot match it: that condition fails.
import type { CompiledCondition, MachineFacts } from "./match.js";

/** Rules filed by their values of one fact. */
interface FactIndex {
  slot: number;
  byValue: Map<unknown, number[]>;
}

export interface RuleIndex {
  /** Rules with no condition to file them by: every machine tries them. */
  unfiled: number[];
  facts: FactIndex[];
}

/** The values an equals / in condition accepts, or null when it cannot file its rule. */
function filingValues(condition: CompiledCondition): readonly unknown[] | null {
  const values =
    condition.operator === "equals"
      ? [condition.expected]
      : condition.operator === "in" && Array.isArray(condition.expected)
        ? (condition.expected as unknown[])
        : null;
  // `equals` compares with ===, a Map with SameValueZero: they differ only on NaN, so NaN is not filed.
  if (values === null || values.some((value) => typeof value === "number" && Number.isNaN(value)))
    return null;
  return values;
}

/**
 * Files each rule under its most selective equals / in condition: the one whose fact takes the most
 * distinct values across the policy, per value the condition accepts (so `role equals r7` beats
 * `firmwareType in [bios, uefi]`).
 */
export function indexRules(rules: readonly (readonly CompiledCondition[])[]): RuleIndex {
  const distinct = new Map<number, Set<unknown>>();
  for (const conditions of rules)
    for (const condition of conditions) {
      const values = filingValues(condition);
      if (!values) continue;
      const seen = distinct.get(condition.slot) ?? new Set<unknown>();
      for (const value of values) seen.add(value);
      distinct.set(condition.slot, seen);
    }
  const unfiled: number[] = [];
  const facts = new Map<number, FactIndex>();
  rules.forEach((conditions, ruleIndex) => {
    let best: { slot: number; values: readonly unknown[]; score: number } | undefined;
    for (const condition of conditions) {
      const values = filingValues(condition);
      if (!values) continue;
      const score = (distinct.get(condition.slot)?.size ?? 0) / values.length;
      if (!best || score > best.score) best = { slot: condition.slot, values, score };
    }
    if (!best) {
      unfiled.push(ruleIndex);
      return;
    }
    const index = facts.get(best.slot) ?? { slot: best.slot, byValue: new Map<unknown, number[]>() };
    facts.set(best.slot, index);
    for (const value of new Set(best.values)) {
      const filed = index.byValue.get(value);
      if (filed) filed.push(ruleIndex);
      else index.byValue.set(value, [ruleIndex]);
    }
  });
  return { unfiled, facts: [...facts.values()] };
}

const NONE: readonly number[] = [];

/** The rule lists this machine may match: unfiled, and those filed under its values (any element of a list). */
function candidateLists(index: RuleIndex, facts: MachineFacts): (readonly number[])[] {
  const lists: (readonly number[])[] = [index.unfiled];
  for (const { slot, byValue } of index.facts) {
    const value = facts.read(slot);
    if (Array.isArray(value)) for (const element of value) lists.push(byValue.get(element) ?? NONE);
    else lists.push(byValue.get(value) ?? NONE);
  }
  return lists;
}

/** The first rule, in rule order, among the candidates for which `matches` holds; -1 when none does. */
export function firstMatching(
  index: RuleIndex,
  facts: MachineFacts,
  matches: (rule: number) => boolean,
): number {
  const lists = candidateLists(index, facts);
  const at = new Array<number>(lists.length).fill(0);
  let last = -1;
  for (;;) {
    // The smallest rule index past the last one tried, across the (sorted) lists: a k-way merge.
    let next = Infinity;
    lists.forEach((list, i) => {
      let position = at[i] ?? 0;
      while (position < list.length && (list[position] ?? Infinity) <= last) position++;
      at[i] = position;
      const head = list[position];
      if (head !== undefined && head < next) next = head;
    });
    if (next === Infinity) return -1;
    if (matches(next)) return next;
    last = next;
  }
}
