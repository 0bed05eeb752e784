// The store contract for a result's answer that leases the machine's next command (issue 20), on SQLite
// (sqlite.test.ts) and a real PostgreSQL (postgres.test.ts): the answer carries the lease, logged as any
// lease is; a retried post gives the same lease, never a second; an empty queue gives null; and without
// asking the answer leases nothing.
import { describe, expect, it } from "vitest";
import type { CommandResult, LeasedCommand } from "../../../protocol/index.js";
import { Services } from "../../services.js";
import { inventoryFor } from "../../test-support.js";
import type { Store } from "../rows.js";

const AT = "2026-05-01T00:00:00.000Z";
const later = (ms: number): Date => new Date(Date.parse(AT) + ms);
const DURATIONS = { defaultMs: 60_000, writeImageMs: 60_000, callHomeMs: 60_000 };
let counter = 0;

const inventoryResult = (lease: LeasedCommand, mac: string): CommandResult => ({
  leaseId: lease.leaseId,
  outcome: "succeeded",
  output: {
    kind: "report-inventory",
    inventory: inventoryFor(mac, { product: "X1", serial: `S-${mac}`, uuid: null }),
  },
});
const disksResult = (lease: LeasedCommand): CommandResult => ({
  leaseId: lease.leaseId,
  outcome: "succeeded",
  output: { kind: "check-disks", disks: [] },
});

/** Runs on a store `store()` returns once its suite has opened it (the caller closes it). */
export function chainedLeaseContract(name: string, store: () => Store): void {
  describe(`the next command leased with a result: ${name}`, () => {
    /**
     * An enrolled machine whose check-disks failed, expected ready again: report-inventory then
     * check-disks queued, the first leased (at +1 ms).
     */
    async function twoQueued(services: Services): Promise<{ mac: string; first: LeasedCommand }> {
      const n = ++counter;
      const mac = `52:54:00:c2:${Math.floor(n / 256)
        .toString(16)
        .padStart(2, "0")}:${(n % 256).toString(16).padStart(2, "0")}`;
      await services.recordInventory(
        inventoryFor(mac, { product: "X1", serial: `S-${mac}`, uuid: null }),
        later(0),
      );
      await services.setExpected(mac, "ready", later(0));
      const check = await services.leaseNext(mac, later(0), DURATIONS);
      if (check.kind !== "leased") throw new Error("no check-disks leased");
      await services.completeCommand(
        mac,
        check.command.id,
        { leaseId: check.command.leaseId, outcome: "failed", error: "a disk went away" },
        later(0),
      );
      await services.setExpected(mac, "ready", later(0));
      const first = await services.leaseNext(mac, later(1), DURATIONS);
      if (first.kind !== "leased") throw new Error("nothing leased after the failure");
      return { mac, first: first.command };
    }

    it("the answer carries the next command, leased once and logged; the last answer carries null", async () => {
      const services = new Services(store());
      const { mac, first } = await twoQueued(services);
      expect(first.kind).toBe("report-inventory");
      const answer = await services.completeCommand(
        mac,
        first.id,
        inventoryResult(first, mac),
        later(2),
        DURATIONS,
      );
      expect(answer.kind).toBe("applied");
      const second = answer.kind === "applied" ? answer.next : undefined;
      expect(second).toMatchObject({
        kind: "check-disks",
        leaseExpiresAt: later(60_002).toISOString(),
        timeoutMs: 48_000,
      });
      if (!second) throw new Error("no command with the answer");
      // The lease is out: GET next has nothing more for the machine.
      expect(await services.leaseNext(mac, later(3), DURATIONS)).toEqual({ kind: "wait" });
      const queue = await services.machineQueue(mac);
      expect(queue.find((c) => c.id === second.id)).toMatchObject({ state: "leased", attempts: 1 });
      const leasedLog = (await services.machineLog(mac)).filter((e) => e.event === "command-leased");
      expect(leasedLog.at(-1)?.data).toMatchObject({ command: second.id, lease: second.leaseId });

      const last = await services.completeCommand(mac, second.id, disksResult(second), later(4), DURATIONS);
      expect(last).toEqual({ kind: "applied", category: "ready", next: null });
    });

    it("a retried post answers with the lease the first answer gave while it is live, never a second", async () => {
      const services = new Services(store());
      const { mac, first } = await twoQueued(services);
      const result = inventoryResult(first, mac);
      const answers = await Promise.all([
        services.completeCommand(mac, first.id, result, later(2), DURATIONS),
        services.completeCommand(mac, first.id, result, later(2), DURATIONS),
      ]);
      expect(answers.map((a) => a.kind).sort()).toEqual(["applied", "duplicate"]);
      const given = answers.map((a) => (a.kind === "applied" || a.kind === "duplicate" ? a.next : undefined));
      expect(given[0]?.leaseId).toBeDefined();
      expect(given[1]?.leaseId).toBe(given[0]?.leaseId);
      const again = await services.completeCommand(mac, first.id, result, later(30_000), DURATIONS);
      expect(again).toMatchObject({ kind: "duplicate", next: { leaseId: given[0]?.leaseId } });
      const leased = (await services.machineLog(mac)).filter(
        (e) => e.event === "command-leased" && e.data.command === given[0]?.id,
      );
      expect(leased).toHaveLength(1);
      expect((await services.machineQueue(mac)).find((c) => c.id === given[0]?.id)?.attempts).toBe(1);
      // Once that lease ran out, a retry gives nothing (GET next hands the command out again).
      const expired = await services.completeCommand(mac, first.id, result, later(70_000), DURATIONS);
      expect(expired).toEqual({ kind: "duplicate", category: "inventoried", next: null });
    });

    it("an empty queue answers null; without asking the answer leases nothing", async () => {
      const services = new Services(store());
      const { mac, first } = await twoQueued(services);
      const answer = await services.completeCommand(mac, first.id, inventoryResult(first, mac), later(2));
      expect(answer).toEqual({ kind: "applied", category: "inventoried" });
      expect((await services.machineQueue(mac)).filter((c) => c.kind === "check-disks").at(-1)?.state).toBe(
        "queued",
      );
      const second = await services.leaseNext(mac, later(3), DURATIONS);
      if (second.kind !== "leased") throw new Error("check-disks not leased");
      const last = await services.completeCommand(
        mac,
        second.command.id,
        disksResult(second.command),
        later(4),
        DURATIONS,
      );
      expect(last).toEqual({ kind: "applied", category: "ready", next: null });
      const retried = await services.completeCommand(
        mac,
        second.command.id,
        disksResult(second.command),
        later(5),
        DURATIONS,
      );
      expect(retried).toEqual({ kind: "duplicate", category: "ready", next: null });
    });
  });
}
