// The blob store's holds on files, on a real directory: a discarded file goes at once when nothing reads
// it, else waits in trash/ (where locate finds it) for its last reader; the same bytes stored again stay;
// collect spares named, read and fresh files; a new store starts with trash/ empty.
import { createHash } from "node:crypto";
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { makeTempDir } from "../test-support.js";
import { BlobStore } from "./blob-store.js";

let work: ReturnType<typeof makeTempDir>;
let blobs: BlobStore;
const root = (): string => join(work.dir, "images");

beforeEach(() => {
  work = makeTempDir("bootwright-blob-store-");
  blobs = new BlobStore(root());
});

afterEach(() => {
  work.remove();
});

async function store(fill: number): Promise<string> {
  return (await blobs.ingest(Readable.from([compress(Buffer.alloc(4096, fill))]))).sha256;
}

const trashPath = (sha: string): string => join(root(), "trash", sha);

describe("BlobStore holds", () => {
  it("removes a discarded file at once when nothing reads it", async () => {
    const sha = await store(1);
    expect(await blobs.discard(sha)).toBe(true);
    expect(blobs.has(sha)).toBe(false);
    expect(existsSync(trashPath(sha))).toBe(false);
  });

  it("keeps a read file in trash/ until its last reader releases it", async () => {
    const sha = await store(2);
    const first = blobs.acquire(sha);
    const second = blobs.acquire(sha);
    expect(await blobs.discard(sha)).toBe(false);
    expect(blobs.has(sha)).toBe(false);
    expect(blobs.locate(sha)).toBe(trashPath(sha));
    await first.release();
    await first.release(); // idempotent: still one reader
    expect(existsSync(trashPath(sha))).toBe(true);
    await second.release();
    expect(existsSync(trashPath(sha))).toBe(false);
  });

  it("the same bytes stored again while the old file waits in trash/ stay when it goes", async () => {
    const sha = await store(3);
    const reader = blobs.acquire(sha);
    await blobs.discard(sha);
    expect(await store(3)).toBe(sha);
    expect(blobs.locate(sha)).toBe(blobs.path(sha));
    await reader.release();
    expect(blobs.has(sha)).toBe(true);
    expect(existsSync(trashPath(sha))).toBe(false);
  });

  it("collect spares named, read and fresh files, and reports what it removed", async () => {
    const named = await store(4);
    const read = await store(5);
    const old = new Date(Date.now() - 7_200_000);
    utimesSync(blobs.path(read), old, old);
    const orphan = createHash("sha256").update("orphan").digest("hex");
    writeFileSync(blobs.path(orphan), Buffer.alloc(123));
    utimesSync(blobs.path(orphan), old, old);
    const fresh = createHash("sha256").update("fresh").digest("hex");
    writeFileSync(blobs.path(fresh), Buffer.alloc(45));
    const reader = blobs.acquire(read);
    const removed = await blobs.collect((sha) => sha === named, new Date(Date.now() - 3_600_000));
    expect(removed).toEqual([{ sha256: orphan, bytes: 123 }]);
    expect(blobs.list().sort()).toEqual([named, read, fresh].sort());
    await reader.release();
  });

  it("a new store starts with trash/ empty: its readers were another process's", async () => {
    const sha = await store(6);
    blobs.acquire(sha);
    await blobs.discard(sha);
    expect(existsSync(trashPath(sha))).toBe(true);
    blobs = new BlobStore(root());
    expect(existsSync(trashPath(sha))).toBe(false);
  });
});
