// The store contract: what the services rely on from any store, run against SQLite (sqlite.test.ts)
// and a real PostgreSQL (postgres.test.ts): rows round-trip, the step log keeps its order, unique keys
// hold (one unfinished maintenance run per machine; images' and uploads' keys: image-contract.ts), a schedule's fire time is claimed once, a failed transaction
// leaves nothing, and the queue's behaviour (leases and their expiry, a result applied exactly once)
// is the same on both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandResult, MaintenanceRun } from "../../../protocol/index.js";
import type { LeaseOutcome } from "../../queue/leases.js";
import { Services } from "../../services.js";
import { sampleInventory, sampleMachine } from "../../test-support.js";
import type { Rows, Store } from "../rows.js";

const AT = "2026-01-01T00:00:00.000Z";
const later = (ms: number): Date => new Date(Date.parse(AT) + ms);
const DURATIONS = { defaultMs: 60_000, writeImageMs: 60_000, callHomeMs: 60_000 };
let counter = 0;
/** A machine id no other test of this store uses. */
const freshId = (): string => `contract-${++counter}-${Math.random().toString(16).slice(2, 8)}`;

function run(id: string, machineId: string, state: MaintenanceRun["state"]): MaintenanceRun {
  return {
    id,
    machineId,
    image: { name: "diagnostic", sha256: "d".repeat(64), purpose: "diagnostic" },
    mode: "passive",
    trigger: { kind: "operator" },
    state,
    original: { image: "sha256:x", planHash: "sha256:y", rule: "r", os: null },
    commandId: `cmd-${id}`,
    steps: [],
    extraSteps: [],
    report: null,
    power: [],
    startedAt: AT,
    deadlineAt: AT,
    runningAt: null,
    lastProgressAt: null,
    reportedAt: null,
    endedAt: null,
    error: null,
  };
}

async function insertMachine(rows: Rows, id: string): Promise<void> {
  await rows.machines.insert(sampleMachine(id, AT, { bootPath: "ipxe" }));
}

/** The contract's tests, on a store `open` makes (each test file stops its engine afterwards). */
export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    const tx = <T>(fn: (rows: Rows) => Promise<T>): Promise<T> => store.transaction(fn);

    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });

    it("machines round-trip, rename moves the log and the queue, and power/installed default sanely", async () => {
      const id = freshId();
      await tx(async (rows) => {
        await insertMachine(rows, id);
        await rows.machines.update(id, { expected: "ready", plan: null, category: "ready" });
        await rows.log.append(id, AT, "first", { n: 1 });
        await rows.commands.insert({
          id: `${id}-c`,
          machineId: id,
          kind: "check-disks",
          onSuccess: "ready",
          at: AT,
          leaseUntil: null,
        });
      });
      const moved = `${id}-uuid`;
      await tx((rows) => rows.machines.rename(id, moved));
      await tx(async (rows) => {
        expect(await rows.machines.get(id)).toBeUndefined();
        const machine = await rows.machines.get(moved);
        expect(machine).toMatchObject({
          id: moved,
          category: "ready",
          expected: "ready",
          inventory: sampleInventory(),
        });
        expect((await rows.log.forMachine(moved)).map((e) => e.event)).toEqual(["first"]);
        expect((await rows.commands.pending(moved)).map((c) => c.id)).toEqual([`${id}-c`]);
        expect((await rows.machines.withExpected()).map((m) => m.id)).toContain(moved);
        expect(await rows.machines.power(moved)).toEqual({ driver: "none" });
        expect(await rows.machines.setPower(moved, { driver: "qmp", socket: "/x" })).toBe(true);
        expect(await rows.machines.setPower("no-such-machine", { driver: "none" })).toBe(false);
        expect(await rows.machines.power(moved)).toEqual({ driver: "qmp", socket: "/x" });
        expect(await rows.machines.installed(moved)).toBeUndefined();
        await rows.machines.setInstalled(moved, {
          image: "sha256:a",
          planHash: "sha256:b",
          os: null,
          at: AT,
        });
        expect(await rows.machines.installed(moved)).toEqual({
          image: "sha256:a",
          planHash: "sha256:b",
          os: null,
          at: AT,
        });
      });
    });

    it("a machine's summary is the machine without its plan and with its inventory's system fields only", async () => {
      const [id, bare] = [freshId(), freshId()];
      await tx(async (rows) => {
        await insertMachine(rows, id);
        await rows.machines.update(id, { tags: ["rack12"], note: "spare" });
        await rows.machines.insert(sampleMachine(bare, AT, { inventory: null }));
      });
      await tx(async (rows) => {
        const summaries = new Map((await rows.machines.summaries()).map((m) => [m.id, m]));
        const machine = (await rows.machines.get(id)) ?? sampleMachine(id, AT);
        expect(summaries.get(id)).toEqual({
          ...machine,
          plan: undefined,
          inventory: { system: machine.inventory?.system },
        });
        expect(summaries.get(bare)?.inventory).toBeNull();
      });
    });

    it("the boot path round-trips; a MAC names the machine that last booted from it", async () => {
      const id = freshId();
      const mac = `52:54:00:${id.slice(-6, -4)}:${id.slice(-4, -2)}:${id.slice(-2)}`.toLowerCase();
      await tx(async (rows) => {
        await insertMachine(rows, id);
        await rows.machines.update(id, {
          bootMac: mac,
          bootPath: "secure-boot",
          lastSeenAt: "2030-01-01T00:00:00.000Z",
        });
      });
      await tx(async (rows) => {
        expect(await rows.machines.get(id)).toMatchObject({ bootPath: "secure-boot", bootMac: mac });
        expect((await rows.machines.lastBootedFrom(mac))?.id).toBe(id);
        expect(await rows.machines.lastBootedFrom("52:54:00:ff:ff:fe")).toBeUndefined();
      });
    });

    it("the boot log: oldest first, by MAC, after a sequence number, and pruned by time", async () => {
      const mac = "52:54:00:b1:00:01";
      const event = (at: string, detail: string, eventMac: string | null = mac) => ({
        at,
        mac: eventMac,
        address: "10.77.0.100",
        source: "tftp" as const,
        event: "tftp-sent",
        detail,
      });
      await tx(async (rows) => {
        await rows.bootEvents.append(event("2000-01-01T00:00:00.000Z", "old"));
        await rows.bootEvents.append(event("2031-01-01T00:00:00.000Z", "shimx64.efi"));
        await rows.bootEvents.append(event("2031-01-01T00:00:01.000Z", "someone else", null));
        await rows.bootEvents.append(event("2031-01-01T00:00:02.000Z", "grubx64.efi"));
      });
      const mine = await tx((rows) => rows.bootEvents.list({ mac, limit: 10 }));
      expect(mine.map((e) => e.detail)).toEqual(["old", "shimx64.efi", "grubx64.efi"]);
      expect((await tx((rows) => rows.bootEvents.list({ mac, limit: 1 }))).map((e) => e.detail)).toEqual([
        "grubx64.efi",
      ]);
      const after = mine[1]?.seq ?? 0;
      expect(
        (await tx((rows) => rows.bootEvents.list({ mac, limit: 10, afterSeq: after }))).map((e) => e.detail),
      ).toEqual(["grubx64.efi"]);
      expect(await tx((rows) => rows.bootEvents.prune("2001-01-01T00:00:00.000Z"))).toBeGreaterThanOrEqual(1);
      expect((await tx((rows) => rows.bootEvents.list({ mac, limit: 10 }))).map((e) => e.detail)).toEqual([
        "shimx64.efi",
        "grubx64.efi",
      ]);
    });

    it("the step log keeps the order it was written in", async () => {
      const id = freshId();
      await tx(async (rows) => {
        for (let i = 0; i < 25; i++) await rows.log.append(id, AT, `event-${i}`, { i });
      });
      const log = await tx((rows) => rows.log.forMachine(id));
      expect(log.map((e) => e.data.i)).toEqual([...Array(25).keys()]);
      expect(log.every((e, i) => i === 0 || e.seq > (log[i - 1]?.seq ?? Infinity))).toBe(true);
    });

    it("a failed transaction leaves nothing behind", async () => {
      const id = freshId();
      await expect(
        tx(async (rows) => {
          await insertMachine(rows, id);
          await rows.log.append(id, AT, "lost", {});
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      await tx(async (rows) => {
        expect(await rows.machines.get(id)).toBeUndefined();
        expect(await rows.log.forMachine(id)).toEqual([]);
      });
    });

    it("the policy's version counts its changes", async () => {
      const first = await tx((rows) => rows.policy.put("rules: []", "yaml", AT));
      // A valid policy: the queue tests below enroll machines under it (an unparseable one admits none).
      const second = await tx((rows) => rows.policy.put('{"rules":[]}', "json", AT));
      expect(second.version).toBe(first.version + 1);
      expect(await tx((rows) => rows.policy.get())).toMatchObject({
        source: '{"rules":[]}',
        format: "json",
        version: second.version,
      });
    });

    it("one unfinished maintenance run per machine; a failed one does not block the next", async () => {
      const id = freshId();
      await tx((rows) => rows.runs.insert(run(`${id}-1`, id, "running")));
      await expect(tx((rows) => rows.runs.insert(run(`${id}-2`, id, "rebooting")))).rejects.toThrow();
      await tx((rows) => rows.runs.update(`${id}-1`, { state: "failed", error: "timeout", endedAt: AT }));
      await tx((rows) => rows.runs.insert(run(`${id}-3`, id, "rebooting")));
      await tx(async (rows) => {
        expect((await rows.runs.active(id))?.id).toBe(`${id}-3`);
        expect((await rows.runs.unalerted()).map((r) => r.id)).toContain(`${id}-1`);
        await rows.runs.update(`${id}-1`, { alertedAt: AT });
        expect((await rows.runs.unalerted()).map((r) => r.id)).not.toContain(`${id}-1`);
      });
    });

    it("a schedule's fire time is claimed once", async () => {
      const id = freshId();
      const next = "2026-01-02T03:00:00.000Z";
      await tx((rows) =>
        rows.schedules.insert({
          id,
          target: { machine: "m" },
          cron: "0 3 * * *",
          at: null,
          image: "diagnostic",
          mode: "passive",
          timeoutMs: null,
          nextFireAt: next,
          createdAt: AT,
        }),
      );
      expect((await tx((rows) => rows.schedules.due(next))).map((s) => s.id)).toContain(id);
      const claims = await Promise.all([
        tx((rows) => rows.schedules.claim(id, next, "2026-01-03T03:00:00.000Z", next)),
        tx((rows) => rows.schedules.claim(id, next, "2026-01-03T03:00:00.000Z", next)),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await tx((rows) => rows.schedules.get(id))).toMatchObject({
        fired: 1,
        nextFireAt: "2026-01-03T03:00:00.000Z",
      });
    });

    it("health latches, and a bounded history newest last", async () => {
      const id = freshId();
      await tx(async (rows) => {
        await rows.health.latch(id, "slow", AT);
        expect(await rows.health.latched(id)).toEqual(["slow"]);
        await rows.health.unlatch(id, "slow");
        expect(await rows.health.latched(id)).toEqual([]);
        for (let i = 0; i < 5; i++)
          await rows.health.insertReport(id, {
            at: later(i).toISOString(),
            os: "tiny",
            figures: { load1: i },
            crossed: [],
          });
        await rows.health.trim(id, 3);
        expect((await rows.health.history(id, 10)).map((r) => r.figures.load1)).toEqual([2, 3, 4]);
      });
    });

    describe("the queue's behaviour over it", () => {
      let services: Services;
      beforeAll(() => {
        services = new Services(store);
      });

      const leased = (outcome: LeaseOutcome) => (outcome.kind === "leased" ? outcome.command : undefined);

      /** An enrolled machine of its own, expected ready: one check-disks queued. */
      async function enrolled(): Promise<string> {
        const uuid = crypto.randomUUID();
        await services.recordInventory(
          sampleInventory({ system: { manufacturer: "Acme", product: "X1", serial: "S", uuid } }),
          later(0),
        );
        await services.setExpected(uuid, "ready", later(0));
        return uuid;
      }

      it("a lease is handed out once; it expires back to the queue, and fails the machine after three", async () => {
        const id = await enrolled();
        const first = leased(await services.leaseNext(id, later(1), DURATIONS));
        expect(first?.kind).toBe("check-disks");
        expect(await services.leaseNext(id, later(2), DURATIONS)).toEqual({ kind: "wait" });
        const second = leased(await services.leaseNext(id, later(61_002), DURATIONS));
        expect(second?.id).toBe(first?.id);
        expect(second?.leaseId).not.toBe(first?.leaseId);
        await services.leaseNext(id, later(122_003), DURATIONS);
        expect(await services.leaseNext(id, later(183_004), DURATIONS)).toEqual({ kind: "wait" });
        expect((await services.getMachine(id))?.category).toBe("failed");
        const events = (await services.machineLog(id)).map((e) => e.event);
        expect(events.filter((e) => e === "lease-expired")).toHaveLength(2);
        expect(events).toContain("command-failed");
      });

      it("two servers asking at once for one machine: one lease", async () => {
        const id = await enrolled();
        const leases = await Promise.all([1, 2, 3].map(() => services.leaseNext(id, later(1), DURATIONS)));
        expect(leases.filter((l) => l.kind === "leased")).toHaveLength(1);
        expect(await services.leaseNext("no-such-machine", later(1), DURATIONS)).toEqual({ kind: "unknown" });
      });

      it("a result is applied once: a repeated post is a duplicate, a stale lease is refused", async () => {
        const id = await enrolled();
        const lease = leased(await services.leaseNext(id, later(1), DURATIONS));
        if (!lease) throw new Error("no lease");
        const result: CommandResult = {
          leaseId: lease.leaseId,
          outcome: "succeeded",
          output: { kind: "check-disks", disks: [] },
        };
        const outcomes = await Promise.all([
          services.completeCommand(id, lease.id, result, later(2)),
          services.completeCommand(id, lease.id, result, later(2)),
        ]);
        expect(outcomes.map((o) => o.kind).sort()).toEqual(["applied", "duplicate"]);
        const stale = await services.completeCommand(
          id,
          lease.id,
          { ...result, leaseId: "not-the-lease" },
          later(3),
        );
        expect(stale.kind).toBe("refused");
        const log = await services.machineLog(id);
        expect(log.filter((e) => e.event === "command-succeeded")).toHaveLength(1);
        expect((await services.getMachine(id))?.category).toBe("ready");
      });
    });
  });
}
