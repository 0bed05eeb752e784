// The pure matcher: each condition compiled once into a closure over its fact's slot (globs and
// regexes built, fact readers chosen), and one machine's facts read into those slots on first use, so a
// fact many rules test is computed once per machine; a condition many rules repeat (the same fact,
// operator and operand) has a slot too, so it is tested once per machine.
import {
  isComputedFact,
  OPERATORS,
  type Condition,
  type FailedCondition,
  type Inventory,
  type Operator,
} from "../index.js";
import { computeFact, NO_OPERATOR_FACTS, readInventoryPath, type OperatorFacts } from "./facts.js";

/** Reads one fact from a machine: a computed fact, or a dotted inventory path split once. */
type FactReader = (inventory: Inventory, operator: OperatorFacts) => unknown;

function readerOf(fact: string): FactReader {
  if (isComputedFact(fact)) return (inventory, operator) => computeFact(inventory, fact, operator);
  const keys = fact.split(".");
  return (inventory) => readInventoryPath(inventory, keys);
}

/** Tells operands apart as === does where JSON would not (NaN and Infinity are not null). */
function operandKey(operand: unknown): string {
  return JSON.stringify(operand, (_key, value: unknown) =>
    typeof value === "number" ? `n:${String(value)}` : typeof value === "string" ? `s:${value}` : value,
  );
}

/**
 * The facts and the distinct conditions a set of conditions tests, each given a slot: what a policy
 * compiles its conditions against.
 */
export class FactTable {
  private readonly slots = new Map<string, number>();
  private readonly readers: FactReader[] = [];
  private readonly conditionSlots = new Map<string, number>();

  slotOf(fact: string): number {
    let slot = this.slots.get(fact);
    if (slot === undefined) {
      slot = this.readers.length;
      this.slots.set(fact, slot);
      this.readers.push(readerOf(fact));
    }
    return slot;
  }

  /** One slot per distinct condition: its fact, operator and operand. */
  conditionSlotOf(fact: string, operator: Operator, operand: unknown): number {
    const key = `${fact}\u0000${operator}\u0000${operandKey(operand)}`;
    let slot = this.conditionSlots.get(key);
    if (slot === undefined) {
      slot = this.conditionSlots.size;
      this.conditionSlots.set(key, slot);
    }
    return slot;
  }

  /** One machine's facts for the conditions compiled against this table. */
  factsOf(inventory: Inventory, operator: OperatorFacts = NO_OPERATOR_FACTS): MachineFacts {
    return new MachineFacts(this.readers, this.conditionSlots.size, inventory, operator);
  }
}

/** Marks a slot not read yet (undefined is a fact's value when the inventory lacks it). */
const UNREAD: unique symbol = Symbol("unread");

/** A condition slot's outcome on one machine. */
const UNTESTED = 0;
const HOLDS = 1;
const FAILS = 2;

/**
 * One machine's facts, each read on first use and kept for every other condition on the same fact; and
 * the outcome of each distinct condition, kept for every other rule that repeats it.
 */
export class MachineFacts {
  private readonly values: unknown[];
  private readonly outcomes: number[];
  constructor(
    private readonly readers: readonly FactReader[],
    conditions: number,
    private readonly inventory: Inventory,
    private readonly operator: OperatorFacts,
  ) {
    this.values = new Array<unknown>(readers.length).fill(UNREAD);
    this.outcomes = new Array<number>(conditions).fill(UNTESTED);
  }

  /** The condition in `slot` tested by `test` on the first call, its kept outcome afterwards. */
  outcome(slot: number, test: (facts: MachineFacts) => boolean): boolean {
    const known = this.outcomes[slot];
    if (known !== UNTESTED) return known === HOLDS;
    const holds = test(this);
    this.outcomes[slot] = holds ? HOLDS : FAILS;
    return holds;
  }

  read(slot: number): unknown {
    const value = this.values[slot];
    if (value !== UNREAD) return value;
    const reader = this.readers[slot];
    const read = reader ? reader(this.inventory, this.operator) : undefined;
    this.values[slot] = read;
    return read;
  }
}

export interface CompiledCondition {
  fact: string;
  operator: Operator;
  /** The operand as the policy gives it (sizes already in bytes). */
  expected: unknown;
  /** Where the fact sits in its FactTable. */
  slot: number;
  /** Whether the machine's value satisfies the condition (a list when any element does). */
  holds: (facts: MachineFacts) => boolean;
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

export function operatorOf(condition: Condition): Operator {
  for (const op of OPERATORS) if (Object.hasOwn(condition, op)) return op;
  // The Condition schema makes sure there is exactly one; a hand-built object without one is a bug.
  throw new Error(`condition on ${condition.fact} has no operator`);
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
}

/** Whether one (non-list) value satisfies the condition; exists is tested on the whole value instead. */
function elementTest(
  condition: Condition,
  operator: Exclude<Operator, "exists">,
): (value: unknown) => boolean {
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
  }
}

export function compileCondition(condition: Condition, table: FactTable): CompiledCondition {
  const operator = operatorOf(condition);
  const slot = table.slotOf(condition.fact);
  const expected = condition[operator];
  let test: (facts: MachineFacts) => boolean;
  if (operator === "exists") test = (facts) => isPresent(facts.read(slot)) === expected;
  else {
    const testOne = elementTest(condition, operator);
    test = (facts) => {
      const value = facts.read(slot);
      return Array.isArray(value) ? value.some(testOne) : testOne(value);
    };
  }
  const conditionSlot = table.conditionSlotOf(condition.fact, operator, expected);
  const holds = (facts: MachineFacts): boolean => facts.outcome(conditionSlot, test);
  return { fact: condition.fact, operator, expected, slot, holds };
}

/** The index of the first condition that fails on this machine, or -1 when they all hold. */
export function firstFailure(conditions: readonly CompiledCondition[], facts: MachineFacts): number {
  for (let i = 0; i < conditions.length; i++) if (!conditions[i]?.holds(facts)) return i;
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
    actual: facts.read(condition.slot) ?? null,
  };
}
