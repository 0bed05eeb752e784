// The compiled resolver (closures over fact slots, rules filed by their most selective fact) against a
// plain reading of the policy semantics, on generated policies and machines: the same rule, plan hash
// and explanation for every machine. The oracle below recomputes every fact for every condition and
// tries every rule in order, as the policy's documentation says, so the index and caches must not show.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isComputedFact,
  OPERATORS,
  type Condition,
  type Explanation,
  type Inventory,
  type Policy,
  type RuleTrace,
} from "../../protocol/index.js";
import { computeFact, readInventoryPath, type OperatorFacts } from "../../protocol/policy/facts.js";
import { globToRegExp } from "../../protocol/policy/match.js";
import { compilePolicy, explain, planHash, resolvePolicy } from "./resolve.js";
import { FIXTURE_NAMES, fixtureInventory } from "./test-fixtures.js";

function factValue(inventory: Inventory, fact: string, operator: OperatorFacts): unknown {
  return isComputedFact(fact)
    ? computeFact(inventory, fact, operator)
    : readInventoryPath(inventory, fact.split("."));
}

function oracleHolds(condition: Condition, value: unknown): boolean {
  if (condition.exists !== undefined)
    return (
      (value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0)) ===
      condition.exists
    );
  const one = (v: unknown): boolean => {
    if (Object.hasOwn(condition, "equals")) return v === condition.equals;
    if (condition.in) return condition.in.includes(v as never);
    if (condition.gte !== undefined) return typeof v === "number" && v >= condition.gte;
    if (condition.lte !== undefined) return typeof v === "number" && v <= condition.lte;
    if (condition.glob !== undefined) return typeof v === "string" && globToRegExp(condition.glob).test(v);
    if (condition.regex !== undefined) return typeof v === "string" && new RegExp(condition.regex).test(v);
    throw new Error("condition without an operator");
  };
  return Array.isArray(value) ? value.some(one) : one(value);
}

/** Every rule in order; the first failed condition of each, up to the first rule that matches. */
function oracleExplain(policy: Policy, inventory: Inventory, operator: OperatorFacts): Explanation {
  const traces: RuleTrace[] = [];
  for (const [index, rule] of policy.rules.entries()) {
    const failedAt = rule.match.findIndex((c) => !oracleHolds(c, factValue(inventory, c.fact, operator)));
    const failed = rule.match[failedAt];
    if (!failed) {
      traces.push({ index, name: rule.name, matched: true, failed: null });
      break;
    }
    const op = OPERATORS.find((o) => Object.hasOwn(failed, o)) ?? "exists";
    traces.push({
      index,
      name: rule.name,
      matched: false,
      failed: {
        index: failedAt,
        fact: failed.fact,
        operator: op,
        expected: failed[op],
        actual: factValue(inventory, failed.fact, operator) ?? null,
      },
    });
  }
  return { rules: traces };
}

const GiB = 2 ** 30;
const STRINGS = ["X1 Blade", "X4", "compute", "storage", "virtio_net", "e1000", "uefi", "bios", "rack12", ""];
const NUMBERS = [0, 1, 2, 4, 8 * GiB, 16 * GiB, 64 * GiB];
const factValues = fc.constantFrom<(string | number | boolean | null)[]>(
  ...STRINGS,
  ...NUMBERS,
  true,
  false,
  null,
);
const FACTS = [
  "product",
  "role",
  "firmwareType",
  "memoryBytes",
  "diskCount",
  "diskSizes",
  "nicDrivers",
  "tags",
  "bladeSlot",
  "hasRaidController",
  "system.serial",
  "cpu.logicalCount",
  "details.nics.length",
  "details.smbios.oemStrings",
];

const condition: fc.Arbitrary<Condition> = fc.record({ fact: fc.constantFrom(...FACTS) }).chain(({ fact }) =>
  fc.oneof(
    factValues.map((equals) => ({ fact, equals })),
    fc.uniqueArray(factValues, { minLength: 1, maxLength: 4 }).map((values) => ({ fact, in: values })),
    fc.constantFrom(...NUMBERS).map((gte) => ({ fact, gte })),
    fc.constantFrom(...NUMBERS).map((lte) => ({ fact, lte })),
    fc.constantFrom("X*", "*Blade", "[a-z]*", "?1*", "compute", "[!x]*").map((glob) => ({ fact, glob })),
    fc.constantFrom("^X", "e1000|virtio", "^(bios|uefi)$", "role=").map((regex) => ({ fact, regex })),
    fc.boolean().map((exists) => ({ fact, exists })),
  ),
);

const policies: fc.Arbitrary<Policy> = fc
  .array(fc.array(condition, { maxLength: 4 }), { maxLength: 12 })
  .map((rules) => ({
    rules: rules.map((match, i) => ({ name: `rule-${i}`, match, plan: { image: `image-${i % 3}` } })),
  }));

/** A captured machine with a few facts changed: product, role, firmware, memory, disks, NIC drivers. */
const machines: fc.Arbitrary<{ inventory: Inventory; operator: OperatorFacts }> = fc
  .record({
    base: fc.constantFrom(...FIXTURE_NAMES),
    product: fc.constantFrom("X1 Blade", "X4", "Standard PC"),
    role: fc.option(fc.constantFrom("compute", "storage"), { nil: null }),
    firmware: fc.constantFrom("bios" as const, "uefi" as const),
    memoryBytes: fc.constantFrom(...NUMBERS),
    disks: fc.array(fc.constantFrom(8 * GiB, 16 * GiB, 64 * GiB), { maxLength: 3 }),
    drivers: fc.array(fc.constantFrom("virtio_net", "e1000", "ixgbe"), { maxLength: 2 }),
    tags: fc.uniqueArray(fc.constantFrom("rack12", "spare", "compute"), { maxLength: 2 }),
  })
  .map(({ base, product, role, firmware, memoryBytes, disks, drivers, tags }) => {
    const inventory = structuredClone(fixtureInventory(base));
    inventory.system.product = product;
    inventory.memoryBytes = memoryBytes;
    inventory.disks = disks.map((sizeBytes, i) => ({ name: `vd${String.fromCharCode(97 + i)}`, sizeBytes }));
    const details = inventory.details;
    if (details) {
      details.firmwareType = firmware;
      details.nics = drivers.map((driver, i) => ({
        name: `eth${i}`,
        mac: `52:54:00:00:00:0${i}`,
        driver,
        pciAddress: null,
        speedMbps: null,
        carrier: true,
      }));
      if (details.smbios) details.smbios.oemStrings = role ? [`bootwright.role=${role}`] : [];
    }
    return { inventory, operator: { tags } };
  });

describe("the compiled resolver against the plain semantics", () => {
  it("gives every machine the same rule, plan hash and explanation", () => {
    fc.assert(
      fc.property(policies, fc.array(machines, { minLength: 1, maxLength: 8 }), (policy, list) => {
        const compiled = compilePolicy(policy);
        for (const { inventory, operator } of list) {
          const expected = oracleExplain(policy, inventory, operator);
          const matched = expected.rules.find((trace) => trace.matched);
          const rule = matched ? policy.rules[matched.index] : undefined;
          expect(resolvePolicy(compiled, inventory, operator)).toEqual(
            matched && rule
              ? {
                  kind: "matched",
                  rule: rule.name,
                  ruleIndex: matched.index,
                  plan: rule.plan,
                  planHash: planHash(rule.plan),
                }
              : { kind: "no-policy", explanation: expected },
          );
          expect(explain(compiled, inventory, operator)).toEqual(expected);
        }
      }),
      { numRuns: 500 },
    );
  });
});
