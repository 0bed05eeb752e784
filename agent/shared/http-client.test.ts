// The loader's HTTP client against real sockets on loopback: what it sends, a kept-alive connection the
// server closed (asked again on a new one), a caller's abort, and a server that never answers.
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { describe, expect, it } from "vitest";
import { httpRequest } from "./http-client.js";
import { listenOnLoopback as listen } from "./loopback-test-server.js";

const OK =
  "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok";

describe("httpRequest", () => {
  it("sends the method, headers and body, and reads the whole answer", async () => {
    let seen = { method: "", type: "", length: "", body: "" };
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        seen = {
          method: req.method ?? "",
          type: req.headers["content-type"] ?? "",
          length: req.headers["content-length"] ?? "",
          body: Buffer.concat(chunks).toString(),
        };
        res.writeHead(409, { "x-answer": "yes" }).end(Buffer.alloc(300_000, 7));
      });
    });
    const url = await listen(server);

    const answer = await httpRequest(`${url}/v1/x`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"é":1}',
      timeoutMs: 5_000,
    });

    expect(seen).toEqual({ method: "POST", type: "application/json", length: "8", body: '{"é":1}' });
    expect(answer).toMatchObject({ status: 409, ok: false, headers: { "x-answer": "yes" } });
    expect(answer.body.equals(Buffer.alloc(300_000, 7))).toBe(true);
  });

  it("asks again on a new connection when the kept-alive one was closed before answering", async () => {
    let connections = 0;
    const server = createNetServer((socket) => {
      connections += 1;
      const mine = connections;
      let requests = 0;
      socket.on("data", () => {
        requests += 1;
        // The first connection answers once, then drops the next request unanswered (an idle timeout
        // that raced the client's reuse); later connections answer everything.
        if (mine === 1 && requests === 2) socket.destroy();
        else socket.write(OK);
      });
    });
    const url = await listen(server);

    expect((await httpRequest(url, { timeoutMs: 5_000 })).body.toString()).toBe("ok");
    const again = await httpRequest(url, { method: "POST", body: "{}", timeoutMs: 5_000 });

    expect(again.body.toString()).toBe("ok");
    expect(connections).toBe(2);
  });

  it("does not ask again when a fresh connection is reset", async () => {
    let connections = 0;
    const server = createNetServer((socket) => {
      connections += 1;
      socket.once("data", () => socket.destroy());
    });
    const url = await listen(server);

    await expect(httpRequest(url, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(connections).toBe(1);
  });

  it("fails with the caller's abort, and with a RequestTimeout when no answer comes in time", async () => {
    const url = await listen(createNetServer(() => undefined)); // accepts, never answers

    const controller = new AbortController();
    const aborted = httpRequest(url, { signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    await expect(httpRequest(url, { timeoutMs: 50 })).rejects.toMatchObject({
      code: "loader_request_timeout",
      context: { method: "GET", url, timeoutMs: 50 },
    });
  });
});
