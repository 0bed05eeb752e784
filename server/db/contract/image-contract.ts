// The image store's rows on any store (run by sqlite.test.ts and postgres.test.ts): one image per
// sha256 and per captured recipe + configuration, the newest of a name wins; one open upload per
// recipe and configuration; a removed image frees its keys; idle open uploads are found and removed.
import { describe, expect, it } from "vitest";
import type { ImageRecord } from "../../../protocol/index.js";
import type { Rows, Store } from "../rows.js";

const AT = "2026-01-01T00:00:00.000Z";
const later = (ms: number): Date => new Date(Date.parse(AT) + ms);

function image(sha: string, name: string, origin: ImageRecord["origin"] = null, createdAt = AT): ImageRecord {
  return {
    sha256: sha.padEnd(64, "0"),
    name,
    format: "raw.zst",
    purpose: "os",
    sizeBytes: 5_000_000_000,
    rawBytes: 9,
    rawSha256: "e".repeat(64),
    createdAt,
    origin,
  };
}

/** Runs on a store `store()` returns once its suite has opened it (the caller closes it). */
export function imageContract(name: string, store: () => Store): void {
  describe(`image rows: ${name}`, () => {
    const tx = <T>(fn: (rows: Rows) => Promise<T>): Promise<T> => store().transaction(fn);

    it("one image per sha256 and per captured recipe + configuration; the newest of a name wins", async () => {
      const origin = {
        recipe: "web",
        fingerprint: `sha256:${"f".repeat(64)}`,
        sourceMachine: "m1",
        inventorySummary: {},
        capturedAt: AT,
      };
      await tx((rows) => rows.images.insert(image("a1", "debian", null, AT)));
      await tx((rows) => rows.images.insert(image("a2", "debian", null, AT)));
      await expect(tx((rows) => rows.images.insert(image("a1", "other")))).rejects.toThrow();
      await tx((rows) => rows.images.insert(image("b1", "captured", origin)));
      await expect(tx((rows) => rows.images.insert(image("b2", "captured", origin)))).rejects.toThrow();
      await tx(async (rows) => {
        // Added in the same millisecond: the later insert is the newer.
        expect((await rows.images.newestNamed("debian"))?.sha256).toBe("a2".padEnd(64, "0"));
        expect((await rows.images.captured("web", origin.fingerprint))?.sha256).toBe("b1".padEnd(64, "0"));
        expect((await rows.images.bySha("a1".padEnd(64, "0")))?.sizeBytes).toBe(5_000_000_000);
      });
    });

    it("one open upload per recipe and configuration; a completed one frees the key", async () => {
      const origin = {
        recipe: "db",
        fingerprint: `sha256:${"1".repeat(64)}`,
        sourceMachine: "m2",
        inventorySummary: {},
      };
      const upload = (id: string) => ({
        id,
        name: "db",
        format: "raw.zst" as const,
        purpose: "os" as const,
        origin,
        received: 0,
        state: "open" as const,
        image: null,
        createdAt: AT,
      });
      await tx((rows) => rows.uploads.insert(upload("u1")));
      await expect(tx((rows) => rows.uploads.insert(upload("u2")))).rejects.toThrow();
      await tx(async (rows) => {
        await rows.uploads.setReceived("u1", 3_000_000_000, AT);
        expect((await rows.uploads.openFor("db", origin.fingerprint))?.received).toBe(3_000_000_000);
        await rows.uploads.complete("u1", "c".repeat(64), AT);
      });
      await tx((rows) => rows.uploads.insert(upload("u3")));
      expect((await tx((rows) => rows.uploads.get("u1")))?.state).toBe("complete");
    });

    it("a removed image frees its sha256 and its captured key; idle open uploads are found and removed", async () => {
      const origin = {
        recipe: "gone",
        fingerprint: `sha256:${"2".repeat(64)}`,
        sourceMachine: "m3",
        inventorySummary: {},
        capturedAt: AT,
      };
      await tx((rows) => rows.images.insert(image("d1", "doomed", origin)));
      expect(await tx((rows) => rows.images.remove("d1".padEnd(64, "0")))).toBe(true);
      expect(await tx((rows) => rows.images.remove("d1".padEnd(64, "0")))).toBe(false);
      await tx(async (rows) => {
        expect(await rows.images.bySha("d1".padEnd(64, "0"))).toBeUndefined();
        expect(await rows.images.captured("gone", origin.fingerprint)).toBeUndefined();
      });
      // The same bytes and the same key may be stored again.
      await tx((rows) => rows.images.insert(image("d1", "doomed", origin)));

      const upload = (id: string, recipe: string, createdAt: string) => ({
        id,
        name: recipe,
        format: "raw.zst" as const,
        purpose: "os" as const,
        origin: { recipe, fingerprint: origin.fingerprint, sourceMachine: "m3", inventorySummary: {} },
        received: 0,
        state: "open" as const,
        image: null,
        createdAt,
      });
      const day = 24 * 3600_000;
      await tx(async (rows) => {
        await rows.uploads.insert(upload("idle-old", "idle-a", later(-3 * day).toISOString()));
        await rows.uploads.insert(upload("idle-busy", "idle-b", later(-3 * day).toISOString()));
        // A chunk arrived recently: not idle, however old the upload.
        await rows.uploads.setReceived("idle-busy", 10, later(-60_000).toISOString());
        await rows.uploads.insert(upload("idle-done", "idle-c", later(-3 * day).toISOString()));
        await rows.uploads.complete("idle-done", "c".repeat(64), later(-3 * day).toISOString());
        await rows.uploads.insert(upload("idle-new", "idle-d", later(-60_000).toISOString()));
      });
      const idle = await tx((rows) => rows.uploads.idleOpen(later(-day).toISOString()));
      expect(idle.map((u) => u.id).filter((id) => id.startsWith("idle-"))).toEqual(["idle-old"]);
      expect(await tx((rows) => rows.uploads.remove("idle-old"))).toBe(true);
      expect(await tx((rows) => rows.uploads.get("idle-old"))).toBeUndefined();
      // Its key is free again.
      await tx((rows) => rows.uploads.insert(upload("idle-again", "idle-a", AT)));
    });
  });
}
