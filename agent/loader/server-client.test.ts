// The server client against real failures: a closed port, real HTTP servers on port 0 answering 500 or 200.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { describe, expect, it } from "vitest";
import { hasCode, type Inventory } from "../../protocol/index.js";
import { httpRequest } from "../shared/http-client.js";
import { listenOnLoopback as listen } from "../shared/loopback-test-server.js";
import { describeRequestFailure, fetchNextAction, HttpStatusError, postInventory } from "./server-client.js";

const inventory: Inventory = {
  bootMac: "52:54:00:12:34:56",
  system: { manufacturer: "QEMU", product: "Standard PC (Q35 + ICH9, 2009)", serial: null, uuid: null },
  cpu: { model: "AMD EPYC", logicalCount: 2 },
  memoryBytes: 2 * 1024 ** 3,
  nics: [{ name: "eth0", mac: "52:54:00:12:34:56" }],
  disks: [{ name: "vda", sizeBytes: 10 * 1024 ** 3 }],
};

interface Seen {
  method: string | undefined;
  url: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** A real HTTP server answering every request with `status` and `body`; records what it was sent. */
async function answering(status: number, body: string): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen.push({
        method: req.method,
        url: req.url,
        contentType: req.headers["content-type"],
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    });
  });
  return { url: await listen(server), seen };
}

/** Catches what `promise` rejects with (failing the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

describe("describeRequestFailure on real failures of the loader's client", () => {
  it("says connection refused for a closed loopback port", async () => {
    const probe = createNetServer();
    const url = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));

    const err = await rejection(httpRequest(`${url}/v1/inventory`, { timeoutMs: 5_000 }));
    expect(describeRequestFailure(err)).toBe("connection refused (is the server running?)");
  });

  it("says connection reset when the server drops the connection without answering", async () => {
    const server = createNetServer((socket) => {
      socket.once("data", () => socket.destroy());
    });
    const url = await listen(server);

    const err = await rejection(httpRequest(url, { timeoutMs: 5_000 }));
    expect(describeRequestFailure(err)).toBe("connection reset");
  });

  it("says timed out when the request's timeout fires", async () => {
    // Accepts the connection and never answers.
    const server = createNetServer(() => undefined);
    const url = await listen(server);

    const err = await rejection(httpRequest(url, { timeoutMs: 50 }));
    expect(describeRequestFailure(err)).toBe("timed out");
  });

  it("passes an HttpStatusError's message through and describes non-errors as text", () => {
    expect(
      describeRequestFailure(new HttpStatusError(404, { code: "not_found", message: "no such machine" })),
    ).toBe("HTTP 404 not_found: no such machine");
    expect(describeRequestFailure("plain string")).toBe("plain string");
  });
});

describe("postInventory", () => {
  it("rejects with HttpStatusError carrying the status and the server's error body", async () => {
    const { url } = await answering(500, JSON.stringify({ code: "internal", message: "boom" }));

    const err = await rejection(postInventory(url, inventory));
    if (!hasCode(err, "http_status")) throw err;
    expect(err.context).toEqual({ status: 500, serverCode: "internal", serverMessage: "boom" });
    expect(err).toMatchObject({
      name: "HttpStatusError",
      status: 500,
      body: { code: "internal", message: "boom" },
    });
    expect(err.message).toContain("HTTP 500");
    expect(err.message).toContain("boom");
    expect(describeRequestFailure(err)).toBe(err.message);
  });

  it("keeps just the status when the error body is not an ErrorBody", async () => {
    const { url } = await answering(502, "<html>Bad Gateway</html>");

    const err = await rejection(postInventory(url, inventory));
    expect(err).toMatchObject({ code: "http_status", status: 502, body: undefined, message: "HTTP 502" });
  });

  it("posts the inventory as JSON and resolves with the parsed answer", async () => {
    const { url, seen } = await answering(
      200,
      JSON.stringify({
        machineId: "52:54:00:12:34:56",
        category: "inventoried",
        bootFromDisk: false,
        credential: "bwm_c",
      }),
    );

    await expect(postInventory(url, inventory)).resolves.toEqual({
      machineId: "52:54:00:12:34:56",
      category: "inventoried",
      bootFromDisk: false,
      credential: "bwm_c",
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.url).toBe("/v1/inventory");
    expect(seen[0]?.contentType).toBe("application/json");
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual(inventory);
  });

  it("rejects a 200 answer that does not match the schema", async () => {
    const { url } = await answering(200, JSON.stringify({ machineId: "x", category: "no-such-category" }));

    await expect(postInventory(url, inventory)).rejects.toThrow(/unexpected answer from .*\/v1\/inventory/);
  });
});

describe("fetchNextAction", () => {
  it("asks for the machine's next action with its id URL-encoded", async () => {
    const { url, seen } = await answering(
      404,
      JSON.stringify({ code: "not_found", message: "unknown machine" }),
    );

    await expect(
      fetchNextAction({ serverUrl: url, id: "52:54:00:12:34:56", credential: "bwm_test" }),
    ).rejects.toThrow("HTTP 404 not_found: unknown machine");
    expect(seen[0]?.method).toBe("GET");
    expect(seen[0]?.url).toBe("/v1/machines/52%3A54%3A00%3A12%3A34%3A56/next");
  });
});
