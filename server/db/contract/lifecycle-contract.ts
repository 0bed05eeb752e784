// The store contract for a machine's lifecycle (issue 18), on SQLite (sqlite.test.ts) and a real
// PostgreSQL (postgres.test.ts): tags, note and retirement round-trip, are patched and move with a
// rename; a removal takes the row and its queue but leaves the log; and the services' retire, delete
// (refused under a live lease; then credentials revoked) and tag-by-selector behave the same on both.
import { describe, expect, it } from "vitest";
import { Services } from "../../services.js";
import { sampleMachine, inventoryFor } from "../../test-support.js";
import type { Store } from "../rows.js";

const AT = "2026-03-01T00:00:00.000Z";
const DURATIONS = { defaultMs: 60_000, writeImageMs: 60_000, callHomeMs: 60_000 };
let counter = 0;
const fresh = (): string => `${++counter}${Math.random().toString(16).slice(2, 6)}`;

/** Runs on a store `store()` returns once its suite has opened it (the caller closes it). */
export function lifecycleContract(name: string, store: () => Store): void {
  describe(`lifecycle rows: ${name}`, () => {
    it("tags, note and retirement round-trip, are patched, and move with a rename", async () => {
      const id = `life-${fresh()}`;
      await store().transaction(async (rows) => {
        await rows.machines.insert(
          sampleMachine(id, AT, {
            bootMac: "52:54:00:f0:00:01",
            tags: ["rack12", "spare"],
            note: "first note",
            retired: { by: "alice", at: AT },
          }),
        );
      });
      expect(await store().read((rows) => rows.machines.get(id))).toMatchObject({
        tags: ["rack12", "spare"],
        note: "first note",
        retired: { by: "alice", at: AT },
      });
      await store().transaction(async (rows) => {
        await rows.machines.update(id, { tags: ["gpu:a100"], note: null, retired: null });
        await rows.machines.rename(id, `${id}-moved`);
      });
      expect(await store().read((rows) => rows.machines.get(`${id}-moved`))).toMatchObject({
        tags: ["gpu:a100"],
        note: null,
        retired: null,
      });
    });

    it("remove takes the row and its whole queue, counts the pending commands, and leaves the log", async () => {
      const services = new Services(store());
      const mac = `52:54:00:f1:${fresh().slice(0, 2).padStart(2, "0")}:02`;
      const inventory = inventoryFor(mac, { product: "X1", serial: `S-${mac}`, uuid: null });
      await services.recordInventory(inventory, new Date(AT));
      await services.setExpected(mac, "ready", new Date(AT));
      const removed = await store().transaction((rows) => rows.machines.remove(mac));
      expect(removed).toEqual({ commandsRemoved: 1 });
      expect(await services.getMachine(mac)).toBeUndefined();
      expect(await services.machineQueue(mac)).toEqual([]);
      expect((await services.machineLog(mac)).map((e) => e.event)).toContain("inventory");
    });

    it("services: retire blocks, delete is refused under a live lease, then revokes; tags by selector", async () => {
      const services = new Services(store());
      const n = fresh();
      const mac = `52:54:00:f2:${n.slice(0, 2).padStart(2, "0")}:03`;
      const inventory = inventoryFor(mac, { product: `P-${n}`, serial: `S-${n}`, uuid: null });
      const enrolled = await services.recordInventory(inventory, new Date(AT));
      if (enrolled.kind !== "enrolled") throw new Error("not enrolled");

      await services.lifecycle.setRetired(mac, true, "alice", new Date(AT));
      await services.setExpected(mac, "installed", new Date(AT));
      expect((await services.differences()).find((d) => d.machineId === mac)?.blocked).toMatch(
        /^retired by alice at /,
      );
      expect(await services.lifecycle.setRetired(mac, false, "bob", new Date(AT))).toMatchObject({
        retired: null,
      });
      const leased = await services.leaseNext(mac, new Date(AT), DURATIONS);
      expect(leased).toMatchObject({ kind: "leased", command: { kind: "check-disks" } });
      expect(await services.lifecycle.deleteMachine(mac, "alice", new Date(AT))).toMatchObject({
        kind: "busy",
        reason: expect.stringMatching(/live check-disks lease/) as string,
      });

      const tagged = await services.lifecycle.tagWhere(
        { path: "inventory.system.product", equals: `P-${n}` },
        { add: ["rack12"], remove: [] },
        new Date(AT),
      );
      expect(tagged).toEqual({ ok: true, machineIds: [mac] });
      expect((await services.getMachine(mac))?.tags).toEqual(["rack12"]);

      // Once its lease has run out, nothing runs on it: it goes, its credential with it.
      const later = new Date(Date.parse(AT) + 120_000);
      expect(await services.lifecycle.deleteMachine(mac, "alice", later)).toEqual({
        kind: "deleted",
        machineId: mac,
        credentialsRevoked: 1,
        commandsRemoved: 4,
      });
      const credentialId = /^bwm_([0-9a-f]+)\./.exec(enrolled.credential)?.[1] ?? "";
      expect(await store().read((rows) => rows.credentials.get(credentialId))).toMatchObject({
        revokedAt: later.toISOString(),
      });
    });

    it("counts machines by category and leased commands; a log line comes back as it is read", async () => {
      const before = await store().read(async (rows) => ({
        categories: await rows.machines.countByCategory(),
        leased: await rows.commands.countLeased(),
      }));
      const id = `count-${fresh()}`;
      const entry = await store().transaction(async (rows) => {
        await rows.machines.insert(sampleMachine(id, AT, { category: "imaging" }));
        await rows.machines.insert(sampleMachine(`${id}-b`, AT, { category: "imaging" }));
        await rows.commands.insert({
          id: `${id}-c`,
          machineId: id,
          kind: "write-image",
          onSuccess: "imaging",
          at: AT,
          leaseUntil: null,
        });
        await rows.commands.update(`${id}-c`, {
          state: "leased",
          leaseId: "l",
          leaseExpiresAt: AT,
          updatedAt: AT,
        });
        return rows.log.append(id, AT, "counted", { n: 1, nested: { ok: true } });
      });
      const after = await store().read(async (rows) => ({
        categories: await rows.machines.countByCategory(),
        leased: await rows.commands.countLeased(),
        log: await rows.log.forMachine(id),
      }));
      expect(after.categories.imaging).toBe((before.categories.imaging ?? 0) + 2);
      expect(after.leased).toBe(before.leased + 1);
      expect(after.log).toEqual([entry]);
      expect(entry).toMatchObject({ machineId: id, event: "counted", data: { n: 1, nested: { ok: true } } });
    });
  });
}
