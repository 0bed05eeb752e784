// What a policy version does to machines that have a plan (pure): only planned ones re-plan, only
// installed ones drift, an unchanged plan does neither, and the sentences say which plan from which rule.
import { describe, expect, it } from "vitest";
import type { BootCategory, Machine, PlanSpec, Policy } from "../../protocol/index.js";
import { sampleMachine } from "../test-support.js";
import { driftMessage, policyEffects, replanMessage } from "./drift.js";
import { compilePolicy } from "./resolve.js";
import { planHash } from "./resolve.js";

const BASE: PlanSpec = { image: "tiny" };
const V1: Policy = { rules: [{ name: "base", match: [], plan: BASE }] };
const UEFI: PlanSpec = { image: "tiny", uefi: { bootOrder: "disk-first" } };
const V2: Policy = { rules: [{ name: "disk-first", match: [], plan: UEFI }] };
/** The same plan as V1 under another rule name. */
const RENAMED: Policy = { rules: [{ name: "renamed", match: [], plan: BASE }] };

function machine(id: string, category: BootCategory): Machine {
  return sampleMachine(id, "t", {
    category,
    plan: { rule: "base", planHash: planHash(BASE), plan: BASE, policyVersion: 1 },
  });
}

const EVERY: BootCategory[] = [
  "discovered",
  "inventoried",
  "ready",
  "planned",
  "configuring",
  "imaging",
  "capturing",
  "installed",
  "maintenance",
  "failed",
];
const machines = EVERY.map((category) => machine(`m-${category}`, category));

describe("policyEffects", () => {
  it("re-plans only the planned machine and shows only the installed one as drift", () => {
    const effects = policyEffects(compilePolicy(V2), 2, machines);
    const from = { rule: "base", planHash: planHash(BASE), policyVersion: 1 };
    const to = { rule: "disk-first", planHash: planHash(UEFI), policyVersion: 2 };
    expect(effects.replan).toEqual([
      { machineId: "m-planned", from, to, message: replanMessage(from, to, 2), plan: UEFI },
    ]);
    expect(effects.drift).toEqual([
      { machineId: "m-installed", runs: from, wouldGet: to, message: driftMessage(from, to, 2) },
    ]);
  });

  it("the same policy again changes nothing; the same plan from another rule is a change", () => {
    expect(policyEffects(compilePolicy(V1), 2, machines)).toEqual({ replan: [], drift: [] });
    const renamed = policyEffects(compilePolicy(RENAMED), 2, machines);
    expect(renamed.replan.map((r) => r.to?.rule)).toEqual(["renamed"]);
    expect(renamed.drift.map((d) => d.wouldGet?.planHash)).toEqual([planHash(BASE)]);
  });

  it("no rule matching: the planned machine loses its plan, the installed one drifts toward none", () => {
    const effects = policyEffects(compilePolicy({ rules: [] }), 3, machines);
    expect(effects.replan).toMatchObject([{ machineId: "m-planned", to: null, plan: null }]);
    expect(effects.drift).toMatchObject([{ machineId: "m-installed", wouldGet: null }]);
    expect(effects.drift[0]?.message).toBe(
      `runs plan ${planHash(BASE).slice(0, 19)} from rule base, policy v3 gives it no plan (no rule matches)`,
    );
  });

  it("a plan stored before versions were kept says so", () => {
    const old = machine("m-old", "planned");
    if (old.plan) delete old.plan.policyVersion;
    const [replan] = policyEffects(compilePolicy(V2), 2, [old]).replan;
    expect(replan?.from.policyVersion).toBeNull();
    expect(replan?.message).toMatch(/^plan sha256:\w{12} from rule base \(an earlier policy\) → plan /);
  });
});

describe("driftMessage", () => {
  it('reads "runs plan A from rule r1, policy v7 gives plan B from rule r2"', () => {
    expect(
      driftMessage(
        { rule: "r1", planHash: `sha256:${"a".repeat(64)}`, policyVersion: 6 },
        { rule: "r2", planHash: `sha256:${"b".repeat(64)}`, policyVersion: 7 },
        7,
      ),
    ).toBe(
      `runs plan sha256:${"a".repeat(12)} from rule r1, policy v7 gives plan sha256:${"b".repeat(12)} from rule r2`,
    );
  });
});
