// The store contract for drift after a policy change (issue 18), on SQLite (sqlite.test.ts) and a real
// PostgreSQL (postgres.test.ts): a plan keeps the policy version that gave it (and an older plan without
// one still reads); a new version re-plans a planned machine in the same transaction, leaves an
// installed one alone as drift, and the dry run writes nothing; --replan queues the reinstall.
import { describe, expect, it } from "vitest";
import type { Machine, PlanSpec } from "../../../protocol/index.js";
import { planHash } from "../../policy/resolve.js";
import { Services } from "../../services.js";
import { sampleMachine } from "../../test-support.js";
import type { Store } from "../rows.js";

const AT = new Date("2026-03-01T00:00:00.000Z");
const V1 = JSON.stringify({ rules: [{ name: "base", match: [], plan: { image: "tiny" } }] });
const V2 = JSON.stringify({
  rules: [{ name: "disk-first", match: [], plan: { image: "tiny", uefi: { bootOrder: "disk-first" } } }],
});
const BASE: PlanSpec = { image: "tiny" };

function machine(id: string, category: Machine["category"], plan: Machine["plan"]): Machine {
  return sampleMachine(id, AT.toISOString(), { bootMac: "52:54:00:df:00:01", category, plan });
}

/** Runs on a store of its own (the policy is one row): `store()` returns it once its suite opened it. */
export function driftContract(name: string, store: () => Store): void {
  describe(`drift: ${name}`, () => {
    it("a plan keeps its policy version; a plan stored without one still reads", async () => {
      await store().transaction(async (rows) => {
        await rows.machines.insert(
          machine("drift-versioned", "planned", {
            rule: "base",
            planHash: planHash(BASE),
            plan: BASE,
            policyVersion: 4,
          }),
        );
        await rows.machines.insert(
          machine("drift-unversioned", "planned", { rule: "base", planHash: planHash(BASE), plan: BASE }),
        );
      });
      const services = new Services(store());
      expect((await services.getMachine("drift-versioned"))?.plan?.policyVersion).toBe(4);
      expect((await services.getMachine("drift-unversioned"))?.plan).toEqual({
        rule: "base",
        planHash: planHash(BASE),
        plan: BASE,
      });
      await store().transaction(async (rows) => {
        await rows.machines.update("drift-versioned", { plan: null, category: "failed" });
        await rows.machines.update("drift-unversioned", { plan: null, category: "failed" });
      });
    });

    it("a new version re-plans the planned machine and shows the installed one as drift; a dry run writes nothing", async () => {
      const services = new Services(store());
      const v1 = await services.setPolicy(V1, "json", AT);
      const plan = { rule: "base", planHash: planHash(BASE), plan: BASE, policyVersion: v1.version };
      await store().transaction(async (rows) => {
        await rows.machines.insert(machine("drift-planned", "planned", plan));
        await rows.machines.insert(machine("drift-installed", "installed", plan));
      });

      const before = JSON.stringify([
        await services.getPolicy(),
        await services.listMachines(),
        await services.machineLog("drift-planned"),
      ]);
      const dry = await services.dryRunPolicy(V2, "json");
      expect(dry.policyVersion).toBe(v1.version + 1);
      expect(dry.replan.map((r) => r.machineId)).toEqual(["drift-planned"]);
      expect(dry.drift.map((d) => d.machineId)).toEqual(["drift-installed"]);
      expect(
        JSON.stringify([
          await services.getPolicy(),
          await services.listMachines(),
          await services.machineLog("drift-planned"),
        ]),
      ).toBe(before);

      const change = await services.changePolicy(V2, "json", AT);
      expect(change.stored.version).toBe(v1.version + 1);
      expect(change.replanned).toEqual(dry.replan);
      expect(change.drift).toEqual(dry.drift);
      expect((await services.getMachine("drift-planned"))?.plan).toMatchObject({
        rule: "disk-first",
        policyVersion: change.stored.version,
      });
      expect((await services.machineLog("drift-planned")).map((e) => e.event)).toEqual(["replanned"]);
      expect((await services.getMachine("drift-installed"))?.plan).toEqual(plan);
      expect(await services.drift()).toEqual(dry.drift);

      const reinstall = await services.reinstall("drift-installed", AT);
      expect(reinstall?.kind).toBe("replanned");
      expect(await services.getMachine("drift-installed")).toMatchObject({
        category: "planned",
        expected: "installed",
        plan: { rule: "disk-first", policyVersion: change.stored.version },
      });
      expect((await services.machineQueue("drift-installed")).map((c) => c.kind)).toEqual([
        "run-agent",
        "write-image",
        "boot-installed",
      ]);
      expect(await services.drift()).toEqual([]);
    });
  });
}
