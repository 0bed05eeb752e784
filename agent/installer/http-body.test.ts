// receiveBody against a real HTTP server on loopback: the body in order, a sink's wait holding the rest
// back, error answers with their words, a refused status, a failing sink and an abort each ending the call.
import { randomBytes } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { receiveBody, type ReceiveOptions } from "./http-body.js";

const body = randomBytes(3 << 20);
let server: Server;
let base: string;
/** What the last request to /slow saw: whether its answer was cut off before the end. */
let slowClosedEarly: Promise<boolean>;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/body") res.end(body);
    else if (req.url === "/missing") answer(res, 404, "no image abc");
    else if (req.url === "/broken") answer(res, 503, "store unavailable");
    else if (req.url === "/slow") {
      // A piece, then the rest only much later: long enough for a test to stop the request first.
      res.writeHead(200, { "content-length": String(body.length) });
      res.write(body.subarray(0, 1 << 16));
      slowClosedEarly = new Promise((resolve) =>
        res.on("close", () => {
          resolve(!res.writableFinished);
        }),
      );
      setTimeout(() => res.end(body.subarray(1 << 16)), 5_000).unref();
    } else answer(res, 500, "unexpected");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain" });
  res.end(text);
}

function options(overrides: Partial<ReceiveOptions> = {}): ReceiveOptions {
  return {
    headers: {},
    signal: AbortSignal.timeout(20_000),
    timeoutMs: 10_000,
    onStatus: () => undefined,
    onErrorAnswer: ({ status, text }) => new Error(`HTTP ${status}: ${text}`),
    ...overrides,
  };
}

it("hands over the whole body in order; a sink's promise holds the rest until it settles", async () => {
  const chunks: Buffer[] = [];
  let waiting = false;
  let chunksWhileWaiting = 0;
  const statuses: number[] = [];
  await receiveBody(`${base}/body`, options({ onStatus: (status) => statuses.push(status) }), (chunk) => {
    if (waiting) chunksWhileWaiting += 1;
    chunks.push(Buffer.from(chunk));
    if (chunks.length % 4 !== 0) return undefined;
    waiting = true;
    return delay(20).then(() => {
      waiting = false;
    });
  });
  expect(statuses).toEqual([200]);
  expect(chunks.length).toBeGreaterThan(4);
  expect(chunksWhileWaiting).toBe(0);
  expect(Buffer.concat(chunks).equals(body)).toBe(true);
});

it("an error answer rejects with onErrorAnswer's error, carrying the server's words", async () => {
  const sink = (): undefined => {
    throw new Error("an error answer's body is not the image");
  };
  await expect(receiveBody(`${base}/missing`, options(), sink)).rejects.toThrow("HTTP 404: no image abc");
  await expect(receiveBody(`${base}/broken`, options(), sink)).rejects.toThrow("HTTP 503: store unavailable");
});

it("a status onStatus refuses, a sink that throws and an abort each end the call with their error", async () => {
  const refused = receiveBody(
    `${base}/body`,
    options({
      onStatus: (status) => {
        throw new Error(`answered ${status} to a Range request`);
      },
    }),
    () => undefined,
  );
  await expect(refused).rejects.toThrow("answered 200 to a Range request");

  const failing = receiveBody(`${base}/slow`, options(), () => {
    throw new Error("the disk is full");
  });
  await expect(failing).rejects.toThrow("the disk is full");
  expect(await slowClosedEarly).toBe(true);

  const controller = new AbortController();
  const aborted = receiveBody(`${base}/slow`, options({ signal: controller.signal }), () => {
    controller.abort(new Error("the operator cancelled"));
    return undefined;
  });
  await expect(aborted).rejects.toThrow("the operator cancelled");
  expect(await slowClosedEarly).toBe(true);
});
