// The pure matcher: a policy compiled once (globs and regexes built, fact readers chosen), then rules
// tested against one machine's facts, each rule stopping at its first failed condition.
import {
  isComputedFact,
  OPERATORS,
  type Condition,
  type FailedCondition,
  type Inventory,
  type Operator,
  type Policy,
  type Rule,
} from "../../protocol/index.js";
import { computeFact, NO_OPERATOR_FACTS, readInventoryPath, type OperatorFacts } from "./facts.js";

/** One machine's facts, each computed on first use and kept for the other rules of the same resolution. */
export class MachineFacts {
  private readonly cache = new Map<string, unknown>();
  constructor(
    readonly inventory: Inventory,
    readonly operator: OperatorFacts = NO_OPERATOR_FACTS,
  ) {}

  read(fact: string, keys: readonly string[] | null): unknown {
    if (this.cache.has(fact)) return this.cache.get(fact);
    const value =
      keys === null && isComputedFact(fact)
        ? computeFact(this.inventory, fact, this.operator)
        : readInventoryPath(this.inventory, keys ?? fact.split("."));
    this.cache.set(fact, value);
    return value;
  }
}

export interface CompiledCondition {
  fact: string;
  operator: Operator;
  /** The operand as the policy gives it (sizes already in bytes). */
  expected: unknown;
  /** The inventory path's keys; null for a computed fact. */
  keys: readonly string[] | null;
  /** Whether one (non-list) value satisfies the condition; a list satisfies it when any element does. */
  test: (value: unknown) => boolean;
}

export interface CompiledRule {
  rule: Rule;
  conditions: CompiledCondition[];
}

export interface CompiledPolicy {
  readonly compiled: true;
  policy: Policy;
  rules: CompiledRule[];
}

/** "X1*" → /^X1.*$/: * any run, ? one character, [a-z] / [!a-z] a class; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === "*") source += ".*";
    else if (c === "?") source += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) source += "\\[";
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        source += `[${body}]`;
        i = end;
      }
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "s");
}

function operatorOf(condition: Condition): Operator {
  for (const op of OPERATORS) if (Object.hasOwn(condition, op)) return op;
  // The Condition schema makes sure there is exactly one; a hand-built object without one is a bug.
  throw new Error(`condition on ${condition.fact} has no operator`);
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

function tester(condition: Condition, operator: Operator): (value: unknown) => boolean {
  switch (operator) {
    case "equals": {
      const expected = condition.equals;
      return (value) => value === expected;
    }
    case "in": {
      const set = new Set<unknown>(condition.in);
      return (value) => set.has(value);
    }
    case "gte": {
      const bound = condition.gte ?? 0;
      return (value) => typeof value === "number" && value >= bound;
    }
    case "lte": {
      const bound = condition.lte ?? 0;
      return (value) => typeof value === "number" && value <= bound;
    }
    case "glob": {
      const pattern = globToRegExp(condition.glob ?? "");
      return (value) => typeof value === "string" && pattern.test(value);
    }
    case "regex": {
      const pattern = new RegExp(condition.regex ?? "");
      return (value) => typeof value === "string" && pattern.test(value);
    }
    case "exists":
      // Handled on the whole value in conditionHolds (a list exists when it is not empty).
      return () => false;
  }
}

export function compileCondition(condition: Condition): CompiledCondition {
  const operator = operatorOf(condition);
  return {
    fact: condition.fact,
    operator,
    expected: condition[operator],
    keys: isComputedFact(condition.fact) ? null : condition.fact.split("."),
    test: tester(condition, operator),
  };
}

export function compilePolicy(policy: Policy): CompiledPolicy {
  return {
    compiled: true,
    policy,
    rules: policy.rules.map((rule) => ({ rule, conditions: rule.match.map(compileCondition) })),
  };
}

export function conditionHolds(condition: CompiledCondition, value: unknown): boolean {
  if (condition.operator === "exists") return isPresent(value) === condition.expected;
  if (Array.isArray(value)) return value.some(condition.test);
  return condition.test(value);
}

/** The index of the rule's first condition that fails on this machine, or -1 when the rule matches. */
export function firstFailure(rule: CompiledRule, facts: MachineFacts): number {
  const { conditions } = rule;
  for (let i = 0; i < conditions.length; i++) {
    const condition = conditions[i];
    if (condition && !conditionHolds(condition, facts.read(condition.fact, condition.keys))) return i;
  }
  return -1;
}

/** The failed condition as explain shows it; a missing fact shows as null (JSON has no undefined). */
export function describeFailure(
  condition: CompiledCondition,
  index: number,
  facts: MachineFacts,
): FailedCondition {
  return {
    index,
    fact: condition.fact,
    operator: condition.operator,
    expected: condition.expected,
    actual: facts.read(condition.fact, condition.keys) ?? null,
  };
}
