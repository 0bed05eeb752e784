// The store contract for the factory line's rows (issue 22), on SQLite (sqlite.test.ts) and a real
// PostgreSQL (postgres.test.ts): a traveler is written whole and read back the same, one row per serial
// however often it is written, found by its machine, listed by time and failure; the station round-trips.
import { describe, expect, it } from "vitest";
import { StationFile, type Traveler } from "../../../protocol/index.js";
import { endStage, newTraveler, startStage } from "../../factory/traveler.js";
import type { Store } from "../rows.js";

const T0 = "2026-12-03T08:00:00.000Z";
const T1 = "2026-12-03T09:00:00.000Z";

/** Runs on a store `store()` returns once its suite has opened it (the caller closes it). */
export function factoryContract(name: string, store: () => Store): void {
  describe(`factory rows: ${name}`, () => {
    it("a traveler is one row per serial, read back whole, by serial and by machine", async () => {
      let t: Traveler = startStage(newTraveler("SN-A", "m-a", "line", T0), "inventory", T0);
      await store().transaction((rows) => rows.travelers.put(t));
      t = endStage(t, "inventory", { result: "failed", figures: { memoryMiB: 512 }, reason: "memory" }, T1);
      await store().transaction((rows) => rows.travelers.put(t));
      const other = newTraveler("SN-B", "m-b", "line", T1);
      await store().transaction((rows) => rows.travelers.put(other));
      expect(await store().read((rows) => rows.travelers.get("SN-A"))).toEqual(t);
      expect(await store().read((rows) => rows.travelers.ofMachine("m-b"))).toEqual(other);
      expect((await store().read((rows) => rows.travelers.list({}))).map((x) => x.serial)).toEqual([
        "SN-A",
        "SN-B",
      ]);
      expect(
        (await store().read((rows) => rows.travelers.list({ failed: true }))).map((x) => x.serial),
      ).toEqual(["SN-A"]);
      expect(
        (await store().read((rows) => rows.travelers.list({ since: "2026-12-03T08:30:00.000Z" }))).length,
      ).toBe(2);
    });

    it("a traveler written in a transaction that fails is not kept", async () => {
      await expect(
        store().transaction(async (rows) => {
          await rows.travelers.put(newTraveler("SN-ROLLBACK", "m-r", "line", T0));
          throw new Error("the unit's own change failed");
        }),
      ).rejects.toThrow(/own change failed/);
      expect(await store().read((rows) => rows.travelers.get("SN-ROLLBACK"))).toBeUndefined();
    });

    it("the station round-trips and is replaced", async () => {
      expect(await store().read((rows) => rows.station.get())).toBeUndefined();
      const station = StationFile.parse({
        name: "l1",
        image: "tiny",
        burnIn: { steps: [{ name: "smart" }] },
      });
      for (const setAt of [T0, T1])
        await store().transaction((rows) =>
          rows.station.put({ station, source: "{}", format: "json", setAt }),
        );
      expect(await store().read((rows) => rows.station.get())).toEqual({
        station,
        source: "{}",
        format: "json",
        setAt: T1,
      });
    });
  });
}
