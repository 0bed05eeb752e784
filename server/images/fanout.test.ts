// The fan-out over real HTTP: one read of the file for a whole batch, and a member that stops reading
// is detached onto a stream of its own (from its offset) instead of stalling the others.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeTempDir } from "../test-support.js";
import { ImageFanout, type BlobRef } from "./fanout.js";

const SIZE = 24 << 20;
let work: { dir: string; remove: () => void };
let blob: BlobRef;
let bytes: Buffer;
let server: Server;
let fanout: ImageFanout;
let url: string;

beforeEach(async () => {
  work = makeTempDir("bootwright-fanout-");
  bytes = randomBytes(SIZE);
  const path = join(work.dir, "image");
  writeFileSync(path, bytes);
  blob = { sha256: "a".repeat(64), path: () => path, sizeBytes: SIZE };
  // Two members expected; small lag limit and detach delay so the test is quick.
  fanout = new ImageFanout(() => Promise.resolve(["fast", "slow"]), {
    chunkBytes: 256 << 10,
    maxLagBytes: 2 << 20,
    detachAfterMs: 300,
    batchWindowMs: 5_000,
  });
  server = createServer((req, res) => {
    const machine = new URL(req.url ?? "/", "http://x").searchParams.get("machine") ?? undefined;
    res.writeHead(200, { "content-length": SIZE });
    void fanout.serve(blob, res, machine);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  work.remove();
});

/** Downloads as `machine`; `pauseMs` > 0 stops reading after the first chunk for that long. */
function download(machine: string, pauseMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(`${url}/?machine=${machine}`, (res) => {
      const chunks: Buffer[] = [];
      let paused = false;
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        if (pauseMs > 0 && !paused) {
          paused = true;
          res.pause();
          setTimeout(() => res.resume(), pauseMs);
        }
      });
      res.on("end", () => {
        resolve(Buffer.concat(chunks));
      });
      res.on("error", reject);
    }).on("error", reject);
  });
}

it("reads the file once for every member of a batch", async () => {
  const [a, b] = await Promise.all([download("fast"), download("slow")]);
  expect(a.equals(bytes)).toBe(true);
  expect(b.equals(bytes)).toBe(true);
  expect(fanout.readStats(blob.sha256)).toMatchObject({
    storeBytesRead: SIZE,
    bytesSent: 2 * SIZE,
    batches: 1,
    batchedMembers: 2,
    detached: 0,
  });
});

it("keeps members that stall together in the batch: none holds another back", async () => {
  // Both stop reading for 1 s (a shared disk in write-back, a busy host): over the lag limit for longer
  // than detachAfterMs, but neither waits on the other.
  const [a, b] = await Promise.all([download("fast", 1_000), download("slow", 1_000)]);
  expect(a.equals(bytes)).toBe(true);
  expect(b.equals(bytes)).toBe(true);
  expect(fanout.readStats(blob.sha256)).toMatchObject({ storeBytesRead: SIZE, detached: 0, soloStreams: 0 });
});

it("detaches a member that stops reading; the other finishes first, both get every byte", async () => {
  let fastDoneAt = 0;
  const fast = download("fast").then((body) => {
    fastDoneAt = Date.now();
    return body;
  });
  await delay(50);
  const slowStarted = Date.now();
  const slow = await download("slow", 3_000);
  const slowDoneAt = Date.now();
  expect((await fast).equals(bytes)).toBe(true);
  expect(slow.equals(bytes)).toBe(true);
  // The fast member did not wait for the slow one's 3 s pause.
  expect(fastDoneAt).toBeLessThan(slowStarted + 2_500);
  expect(slowDoneAt - slowStarted).toBeGreaterThanOrEqual(3_000);
  const stats = fanout.readStats(blob.sha256);
  expect(stats.detached).toBe(1);
  expect(stats.soloStreams).toBe(1);
  // The detached member's own stream read only what it had not been handed yet.
  expect(stats.storeBytesRead).toBeGreaterThan(SIZE);
  expect(stats.storeBytesRead).toBeLessThan(2 * SIZE);
  expect(stats.bytesSent).toBe(2 * SIZE);
});
