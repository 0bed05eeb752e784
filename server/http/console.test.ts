// The console's files over HTTP (public, compressed as asked, cached by hash, under a strict CSP) and
// GET /v1/whoami, which the page asks to know the token's role.
import { request } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, startApiServer } from "../test-support.js";
import { chooseEncoding } from "./console-routes.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;

beforeAll(async () => {
  work = makeTempDir("bootwright-console-http-");
  server = await startApiServer(work.dir);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

it("serves the page at / without a credential, under a CSP that allows only this server", async () => {
  const page = await fetch(`${server.url}/`, { headers: { "accept-encoding": "identity" } });
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
  expect(page.headers.get("cache-control")).toBe("no-cache");
  const html = await page.text();
  const script = /src="(\/console\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
  const style = /href="(\/console\/app-[A-Z0-9]+\.css)"/.exec(html)?.[1];
  expect(script && style).toBeTruthy();

  const plain = await fetch(`${server.url}${script ?? ""}`, { headers: { "accept-encoding": "identity" } });
  expect(plain.headers.get("cache-control")).toContain("immutable");
  expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  const body = Buffer.from(await plain.arrayBuffer());
  expect(body.toString()).toContain("bootwright.token");

  // node's fetch would decode for us: ask with a raw request to see the encoded bytes.
  for (const [encoding, decode] of [
    ["br", brotliDecompressSync],
    ["gzip", gunzipSync],
  ] as const) {
    const raw = await new Promise<{ headers: Record<string, unknown>; bytes: Buffer }>((done, fail) => {
      request(`${server.url}${script ?? ""}`, { headers: { "accept-encoding": encoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          done({ headers: res.headers, bytes: Buffer.concat(chunks) });
        });
      })
        .on("error", fail)
        .end();
    });
    expect(raw.headers["content-encoding"]).toBe(encoding);
    expect(raw.headers.vary).toBe("accept-encoding");
    expect(decode(raw.bytes).equals(body)).toBe(true);
  }

  const etag = plain.headers.get("etag") ?? "";
  expect((await fetch(`${server.url}${script ?? ""}`, { headers: { "if-none-match": etag } })).status).toBe(
    304,
  );
  expect((await fetch(`${server.url}${style ?? ""}`)).status).toBe(200);
  const missing = await jsonRequest(`${server.url}/console/app-NOPE.js`, "GET", undefined, null);
  expect(missing).toMatchObject({ status: 404, body: { code: "not_found" } });
});

it("GET /v1/whoami names the token and its role, and needs one", async () => {
  expect((await jsonRequest(`${server.url}/v1/whoami`, "GET")).body).toMatchObject({
    name: "initial-admin",
    role: "admin",
  });
  expect(await jsonRequest(`${server.url}/v1/whoami`, "GET", undefined, null)).toMatchObject({
    status: 401,
    body: { code: "unauthenticated" },
  });
});

it("chooses brotli, then gzip, as the request accepts", () => {
  expect(chooseEncoding("gzip, deflate, br")).toBe("br");
  expect(chooseEncoding("gzip")).toBe("gzip");
  expect(chooseEncoding("br;q=0, gzip;q=0.8")).toBe("gzip");
  expect(chooseEncoding(undefined)).toBeNull();
  expect(chooseEncoding("identity")).toBeNull();
});
