// The console's events client (server/console/live.ts) against real HTTP servers: it sends the token in
// the Authorization header, follows the stream, resumes after a dropped connection with Last-Event-ID,
// and falls back to polling where the server has no event stream (404).
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { startLive, type LiveEvent, type LiveMode } from "../console/live.js";

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((done) => {
    if (server)
      server.close(() => {
        done();
      });
    else done();
  });
  server = undefined;
});

async function listen(handler: RequestListener): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((done) => server?.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`;
}

const progress = (bytesDone: number) =>
  JSON.stringify({ machineId: "m1", kind: "image", bytesDone, bytesTotal: 100, bytesPerSecond: 5, at: "t" });

it("follows the stream, and after a dropped connection resumes from the last event id", async () => {
  const requests: IncomingHttpHeaders[] = [];
  const url = await listen((request, response) => {
    requests.push(request.headers);
    response.writeHead(200, { "content-type": "text/event-stream" });
    if (requests.length === 1) {
      // Two events, then the connection drops (a restart, a proxy's timeout).
      response.end(
        `retry: 50\nid: 1\nevent: progress\ndata: ${progress(10)}\n\nid: 2\nevent: progress\ndata: ${progress(20)}\n\n`,
      );
    } else {
      response.write(`id: 3\nevent: progress\ndata: ${progress(30)}\n\n`);
    }
  });
  const events: LiveEvent[] = [];
  const modes: LiveMode[] = [];
  const live = startLive({
    url,
    token: () => "bwo_token",
    onEvent: (event) => events.push(event),
    onMode: (mode) => modes.push(mode),
    poll: () => Promise.reject(new Error("must not poll")),
    onUnauthorized: () => {
      throw new Error("not unauthorized");
    },
  });
  try {
    await expect.poll(() => events.length).toBe(3);
  } finally {
    live.stop();
  }
  expect(events.map((e) => (e.type === "progress" ? e.bytesDone : e.type))).toEqual([10, 20, 30]);
  expect(requests[0]).toMatchObject({ authorization: "Bearer bwo_token", accept: "text/event-stream" });
  expect(requests[0]?.["last-event-id"]).toBeUndefined();
  expect(requests[1]?.["last-event-id"]).toBe("2");
  expect(modes).toEqual(["connecting", "live", "offline", "live"]);
});

it("polls every interval where the server has no event stream", async () => {
  let asked = 0;
  const url = await listen((_request, response) => {
    asked++;
    response
      .writeHead(404, { "content-type": "application/json" })
      .end('{"code":"not_found","message":"no"}');
  });
  let polls = 0;
  const modes: LiveMode[] = [];
  const live = startLive({
    url,
    token: () => "bwo_token",
    onEvent: () => undefined,
    onMode: (mode) => modes.push(mode),
    poll: () => {
      polls++;
      return Promise.resolve();
    },
    onUnauthorized: () => undefined,
    pollEveryMs: 20,
  });
  try {
    await expect.poll(() => polls).toBeGreaterThanOrEqual(3);
  } finally {
    live.stop();
  }
  expect(asked).toBe(1);
  expect(modes).toEqual(["connecting", "polling"]);
});

it("a refused token (401) is the page's to handle: it stops", async () => {
  const url = await listen((_request, response) => {
    response.writeHead(401).end();
  });
  let refused = 0;
  startLive({
    url,
    token: () => "bwo_revoked",
    onEvent: () => undefined,
    onMode: () => undefined,
    poll: () => Promise.resolve(),
    onUnauthorized: () => refused++,
  });
  await expect.poll(() => refused).toBe(1);
});
