// The store contract for identity and enrollment (issue 17), on SQLite (sqlite.test.ts) and a real
// PostgreSQL (postgres.test.ts): a machine's enrollment state, reason and shared UUID round-trip and
// move with a rename; shared UUIDs keep their first record; and the services' split of a UUID two
// machines report, and an approval, behave the same on both.
import { describe, expect, it } from "vitest";
import { Services } from "../../services.js";
import { sampleMachine, inventoryFor } from "../../test-support.js";
import type { Store } from "../rows.js";

const AT = "2026-02-01T00:00:00.000Z";
let counter = 0;
const fresh = (): string => `${++counter}${Math.random().toString(16).slice(2, 6)}`;
const macOf = (n: string, last: string): string =>
  `52:54:0${n[0] ?? "0"}:${n.slice(1, 3).padStart(2, "0")}:${last}:01`;

/** Runs on a store `store()` returns once its suite has opened it (the caller closes it). */
export function enrollmentContract(name: string, store: () => Store): void {
  describe(`enrollment rows: ${name}`, () => {
    it("a machine's enrollment round-trips, is patched whole, and moves with a rename", async () => {
      const id = `enroll-${fresh()}`;
      await store().transaction(async (rows) => {
        await rows.machines.insert(
          sampleMachine(id, AT, {
            bootMac: "52:54:00:e0:00:01",
            category: "discovered",
            enrollment: {
              state: "awaiting-approval",
              reason: "awaiting approval (enrollment: approve)",
              sharedUuid: null,
            },
          }),
        );
      });
      await store().transaction(async (rows) => {
        expect((await rows.machines.get(id))?.enrollment).toEqual({
          state: "awaiting-approval",
          reason: "awaiting approval (enrollment: approve)",
          sharedUuid: null,
        });
        await rows.machines.update(id, {
          enrollment: { state: "approved", reason: null, sharedUuid: "abc" },
          lastSeenAt: "2026-02-01T00:00:01.000Z",
        });
        await rows.machines.rename(id, `${id}-moved`);
      });
      const moved = await store().read((rows) => rows.machines.get(`${id}-moved`));
      expect(moved).toMatchObject({
        enrollment: { state: "approved", reason: null, sharedUuid: "abc" },
        lastSeenAt: "2026-02-01T00:00:01.000Z",
      });
    });

    it("shared UUIDs: a second insert keeps the first record; listed oldest first", async () => {
      const a = `0e0c8a6a-0000-4000-8000-${fresh().padStart(12, "0")}`;
      const b = `0e0c8a6a-0000-4000-8000-${fresh().padStart(12, "1")}`;
      await store().transaction(async (rows) => {
        await rows.sharedUuids.insert({
          uuid: a,
          machines: ["m1", "m2"],
          noticedAt: "2026-02-02T00:00:00.000Z",
        });
        await rows.sharedUuids.insert({ uuid: a, machines: ["x"], noticedAt: "2026-02-03T00:00:00.000Z" });
        await rows.sharedUuids.insert({
          uuid: b,
          machines: ["m3", "m4"],
          noticedAt: "2026-02-01T00:00:00.000Z",
        });
      });
      expect(await store().read((rows) => rows.sharedUuids.get(a))).toEqual({
        uuid: a,
        machines: ["m1", "m2"],
        noticedAt: "2026-02-02T00:00:00.000Z",
      });
      expect(await store().read((rows) => rows.sharedUuids.get("no-such"))).toBeUndefined();
      const listed = (await store().read((rows) => rows.sharedUuids.list())).map((s) => s.uuid);
      expect(listed.indexOf(b)).toBeLessThan(listed.indexOf(a));
    });

    it("services: a UUID two different machines report splits them by MAC; an approval is kept", async () => {
      const services = new Services(store());
      const n = fresh();
      const uuid = `4c4c4544-0043-3510-8052-${n.padStart(12, "0")}`;
      const first = macOf(n, "a1");
      const second = macOf(n, "b2");
      const inventory = (mac: string, serial: string) => inventoryFor(mac, { product: "X1", serial, uuid });
      const one = await services.recordInventory(inventory(first, `S1-${n}`), new Date(AT));
      expect(one).toMatchObject({ kind: "enrolled", machine: { id: uuid } });
      const two = await services.recordInventory(inventory(second, `S2-${n}`), new Date(AT));
      expect(two).toMatchObject({ kind: "enrolled", machine: { id: second } });
      expect(await services.getMachine(uuid)).toBeUndefined();
      expect(await services.getMachine(first)).toMatchObject({ enrollment: { sharedUuid: uuid } });
      expect((await services.machineLog(first)).map((e) => e.event)).toEqual(
        expect.arrayContaining(["discovered", "inventory", "credential-issued", "identity"]),
      );
      expect((await services.sharedUuids()).map((s) => s.uuid)).toContain(uuid);
      expect(await services.approve({ ids: [second] }, new Date(AT))).toEqual([]);
    });
  });
}
