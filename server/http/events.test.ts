// GET /v1/events on a real server, read by the CLI's own client (server/cli/event-stream.ts): an install
// over the API with the image really streamed gives category, step and progress events; each step event
// carries the very entry GET /v1/machines/:id/log returns; a reconnect with Last-Event-ID resumes with
// nothing lost; an id the server does not hold gets a reset; ?machine= narrows; a viewer may read it.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { StepLog, type LiveEvent } from "../../protocol/index.js";
import { liveEvents } from "../cli/event-stream.js";
import type { RunningServer } from "../server.js";
import {
  inventoryFor,
  installStreamingImage,
  leaseCommand,
  OPERATOR,
  jsonRequest,
  makeTempDir,
  serveTestImage,
  startApiServer,
} from "../test-support.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;
let viewer: string;
const stop = new AbortController();
const M = "52:54:00:e0:00:01";
const N = "52:54:00:e0:00:02";

/** Reads a stream in the background into an array, until the test ends. */
function record(options: Parameters<typeof liveEvents>[1] = {}): LiveEvent[] {
  const events: LiveEvent[] = [];
  void (async () => {
    for await (const event of liveEvents(server.url, { token: viewer, signal: stop.signal, ...options }))
      events.push(event);
  })().catch(() => undefined);
  return events;
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const about = (events: LiveEvent[], machine: string): LiveEvent[] =>
  events.filter((e) => e.type !== "reset" && e.data.machineId === machine);

beforeAll(async () => {
  work = makeTempDir("bootwright-events-");
  server = await startApiServer(work.dir, { batchWindowMs: 100 });
  const made = await jsonRequest(`${server.url}/v1/tokens`, "POST", { name: "console", role: "viewer" });
  viewer = (made.body as { token: string }).token;
});

afterAll(async () => {
  stop.abort();
  await server.close();
  work.remove();
});

it("an install streams category, step and progress events; a reconnect resumes; ?machine= narrows", async () => {
  const all = record();
  const onlyM = record({ machine: M });
  // Both connected before anything happens (the metrics count this server's events as it publishes them).
  await until("both streams connected", () => server.events.subscribers === 2);
  const sha = await serveTestImage(server.url);
  for (const mac of [M, N])
    await jsonRequest(
      `${server.url}/v1/inventory`,
      "POST",
      inventoryFor(mac, { product: "X1", serial: mac, uuid: null }),
    );
  const imageBytes = await installStreamingImage(server.url, M, sha, { callHome: false });
  const log = StepLog.parse((await jsonRequest(`${server.url}/v1/machines/${M}/log`, "GET")).body);
  const last = log.entries.at(-1)?.seq;
  await until("the last step line", () => all.some((e) => e.type === "step" && e.data.entry.seq === last));

  // Step events: exactly the log's entries, in order.
  const steps = about(all, M).flatMap((e) => (e.type === "step" ? [e.data.entry] : []));
  expect(steps).toEqual(log.entries);
  // Category events follow the install, one per committed change (a category passed through inside one
  // transaction, `ready`, shows in the step lines only).
  const categories = about(all, M).flatMap((e) => (e.type === "category" ? [e.data] : []));
  expect(categories.map((c) => [c.category, c.expected])).toEqual([
    ["inventoried", null],
    ["inventoried", "installed"],
    ["planned", "installed"],
    ["configuring", "installed"],
    ["imaging", "installed"],
  ]);
  // The image stream's progress ends at the image's size.
  const progress = about(all, M).flatMap((e) => (e.type === "progress" ? [e.data] : []));
  expect(imageBytes).toBeGreaterThan(0);
  expect(progress.at(-1)).toMatchObject({ kind: "image", bytesDone: imageBytes, bytesTotal: imageBytes });
  // Ids increase by one: nothing was skipped.
  const ids = all.map((e) => e.id);
  expect(ids).toEqual(ids.map((_, i) => (ids[0] ?? 0) + i));

  // ?machine= sees M's events and none of N's.
  await until("the filtered stream", () => onlyM.length === about(all, M).length);
  expect(onlyM).toEqual(about(all, M));
  expect(about(all, N).length).toBeGreaterThan(0);

  // A reconnect from the middle gets exactly the rest.
  const middle = all[Math.floor(all.length / 2)];
  const resumed = record({ lastEventId: middle?.id ?? 0 });
  const rest = all.filter((e) => e.id > (middle?.id ?? 0));
  await until("the replay", () => resumed.length >= rest.length);
  expect(resumed.slice(0, rest.length)).toEqual(rest);
});

it("an erase's reports and a capture's chunks become progress events", async () => {
  const P = "52:54:00:e0:00:03";
  const listening = server.events.subscribers;
  const events = record({ machine: P });
  await until("the stream", () => server.events.subscribers === listening + 1);
  await jsonRequest(
    `${server.url}/v1/inventory`,
    "POST",
    inventoryFor(P, { product: "X9", serial: P, uuid: null }),
  );
  expect(
    (await jsonRequest(`${server.url}/v1/machines/${P}/release`, "POST", { erase: "quick" })).status,
  ).toBe(200);
  const erase = await leaseCommand(server.url, P, "erase-disks");
  for (const writtenBytes of [512, 1024]) {
    const posted = await jsonRequest(`${server.url}/v1/machines/${P}/events`, "POST", {
      commandId: erase.id,
      leaseId: erase.leaseId,
      event: "progress",
      plugin: "erase",
      step: "vda",
      message: "erasing",
      data: { writtenBytes, totalBytes: 1024 },
    });
    expect(posted.status).toBe(200);
  }
  const bytes = Buffer.alloc(3000, 1);
  const start = await jsonRequest(`${server.url}/v1/uploads`, "POST", {
    name: "web-img",
    format: "raw.zst",
    origin: {
      recipe: "web",
      fingerprint: `sha256:${"a".repeat(64)}`,
      sourceMachine: P,
      inventorySummary: {},
    },
  });
  const upload = (start.body as { id: string }).id;
  const chunk = await fetch(`${server.url}/v1/uploads/${upload}/chunks/0`, {
    method: "PUT",
    headers: { ...OPERATOR, "x-bootwright-chunk-sha256": createHash("sha256").update(bytes).digest("hex") },
    body: bytes,
  });
  expect(chunk.status).toBe(200);
  await until("the capture's progress", () =>
    events.some((e) => e.type === "progress" && e.data.kind === "capture"),
  );
  const progress = events.flatMap((e) => (e.type === "progress" ? [e.data] : []));
  expect(progress.map((p) => [p.kind, p.bytesDone, p.bytesTotal])).toEqual([
    ["erase", 512, 1024],
    ["erase", 1024, 1024],
    ["capture", 3000, null],
  ]);
});

it("an id the server does not hold (from before it started) gets a reset naming the latest id", async () => {
  const events = record({ lastEventId: 12 });
  await until("the reset", () => events.length > 0);
  expect(events[0]).toMatchObject({ type: "reset", data: { reason: "unknown-id" } });
  expect(events[0]?.id).toBe(events[0]?.type === "reset" ? events[0].data.latestId : -1);
});

it("needs a token, and refuses a Last-Event-ID that is not an id", async () => {
  expect((await fetch(`${server.url}/v1/events`)).status).toBe(401);
  const bad = await fetch(`${server.url}/v1/events`, {
    headers: { authorization: `Bearer ${viewer}`, "last-event-id": "yesterday" },
  });
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ code: "invalid_parameter" });
});
