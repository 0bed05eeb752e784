// The reconciler is pure: property tests over random boot lists and expectations, plus examples.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BootCategory } from "../../protocol/index.js";
import {
  commandPath,
  differenceOf,
  isServerSide,
  queueChanges,
  reconcile,
  type MachineState,
} from "./reconciler.js";

const category = fc.constantFrom(...BootCategory.options);
const machines = fc.uniqueArray(
  fc.record({
    id: fc.string({ minLength: 1, maxLength: 8 }),
    category,
    expected: fc.option(category, { nil: null }),
  }),
  { selector: (m) => m.id, maxLength: 60 },
);

describe("reconcile (properties)", () => {
  it("the difference list is empty iff every machine is at its expected category (or expects nothing)", () => {
    fc.assert(
      fc.property(machines, (list: MachineState[]) => {
        const settled = list.every((m) => m.expected === null || m.expected === m.category);
        expect(reconcile(list).length === 0).toBe(settled);
      }),
    );
  });

  it("lists exactly the machines whose current category differs from the expected one, with commands only for them", () => {
    fc.assert(
      fc.property(machines, (list: MachineState[]) => {
        const differences = reconcile(list);
        const differing = list
          .filter((m) => m.expected !== null && m.expected !== m.category)
          .map((m) => m.id);
        expect(differences.map((d) => d.machineId).sort()).toEqual([...differing].sort());
        for (const d of differences) {
          // Either commands or a reason, never both, never neither.
          expect(d.blocked === null).toBe(d.commands.length > 0);
          // The commands end at the expected category.
          if (d.commands.length > 0) expect(d.commands.at(-1)?.onSuccess).toBe(d.expected);
        }
      }),
    );
  });

  it("running it twice gives the same result, whatever the input order", () => {
    fc.assert(
      fc.property(machines, (list: MachineState[]) => {
        expect(reconcile([...list].reverse())).toEqual(reconcile(list));
      }),
    );
  });

  it("a queue already matching the difference is left alone; a settled machine's queue is emptied", () => {
    fc.assert(
      fc.property(
        fc.record({ id: fc.constant("m"), category, expected: fc.option(category, { nil: null }) }),
        (machine: MachineState) => {
          const difference = differenceOf(machine);
          const queued = (difference?.commands ?? [])
            .filter((c) => !isServerSide(c.kind))
            .map((c, i) => ({ ...c, id: `c${i}` }));
          expect(queueChanges(difference, queued)).toEqual({ cancel: [], enqueue: [] });
          if (!difference)
            expect(
              queueChanges(difference, [{ id: "x", kind: "check-disks", onSuccess: "ready" }]).cancel,
            ).toEqual(["x"]);
        },
      ),
    );
  });
});

describe("reconcile (examples)", () => {
  it("never queues the server's own step: inventoried → configuring queues the disk check and the agent", () => {
    const difference = differenceOf({ id: "m", category: "inventoried", expected: "configuring" });
    expect(difference?.commands.map((c) => c.kind)).toEqual(["check-disks", "resolve-policy", "run-agent"]);
    expect(queueChanges(difference, []).enqueue.map((c) => c.kind)).toEqual(["check-disks", "run-agent"]);
  });

  it("discovered → ready takes an inventory then a disk check", () => {
    expect(commandPath("discovered", "ready")).toEqual([
      { kind: "report-inventory", onSuccess: "inventoried" },
      { kind: "check-disks", onSuccess: "ready" },
    ]);
  });

  it("says why a difference cannot be closed yet", () => {
    expect(differenceOf({ id: "m", category: "inventoried", expected: "maintenance" })?.blocked).toBe(
      "no command moves a machine from inventoried to maintenance yet",
    );
    expect(differenceOf({ id: "m", category: "inventoried", expected: "failed" })?.blocked).toMatch(
      /outcome/,
    );
    expect(differenceOf({ id: "m", category: "ready", expected: "discovered" })?.blocked).toBe(
      "no sequence of commands leads from ready to discovered",
    );
  });

  it("a changed expectation cancels the old queue and queues the new plan", () => {
    const difference = differenceOf({ id: "m", category: "inventoried", expected: "ready" });
    expect(
      queueChanges(difference, [{ id: "old", kind: "report-inventory", onSuccess: "inventoried" }]),
    ).toEqual({
      cancel: ["old"],
      enqueue: [{ kind: "check-disks", onSuccess: "ready" }],
    });
  });
});
