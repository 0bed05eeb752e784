// /openapi.json against the real router, both ways: every route the server declares is documented (with
// its summary and answer), every documented operation is answered by the router (never "no route"), and
// the document is valid OpenAPI 3.1 by a real validator (@apidevtools/swagger-parser).
import SwaggerParser from "@apidevtools/swagger-parser";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ErrorBody } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, startApiServer } from "../test-support.js";
import { openApiPath } from "./openapi.js";
import { ROUTE_DOCS } from "./openapi-docs.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;
let document: { openapi: string; paths: Record<string, Record<string, { summary?: string }>> };

beforeAll(async () => {
  work = makeTempDir("bootwright-openapi-");
  server = await startApiServer(work.dir);
  const res = await fetch(`${server.url}/openapi.json`); // public: no token
  expect(res.status).toBe(200);
  document = (await res.json()) as typeof document;
});

afterAll(async () => {
  await server.close();
  work.remove();
});

it("is valid OpenAPI 3.1", async () => {
  expect(document.openapi).toBe("3.1.0");
  await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeTruthy();
});

it("documents every route the router declares, each with its summary", () => {
  const declared = server.routes.filter((r) => r.method !== "HEAD");
  expect(declared.length).toBeGreaterThan(60);
  const undocumented = declared.filter(
    (r) => document.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]?.summary === undefined,
  );
  expect(undocumented.map((r) => `${r.method} ${r.url}`)).toEqual([]);
  // And the table of summaries names no route that is not there.
  const routeKeys = new Set(declared.map((r) => `${r.method} ${r.url}`));
  expect(Object.keys(ROUTE_DOCS).filter((key) => !routeKeys.has(key))).toEqual([]);
});

it("every documented operation is answered by the router (and HEAD as its GET)", async () => {
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
  );
  expect(operations.length).toBe(server.routes.filter((r) => r.method !== "HEAD").length);
  const unanswered: string[] = [];
  for (const { method, path } of operations) {
    // Path parameters filled with a placeholder; no token: a route answers 401, 400, 404 "no machine"…,
    // but only a missing one answers with the router's own "no route" or "method not allowed".
    const url = `${server.url}${path.replace(/\{[^}]+\}/g, "x")}`;
    const res = await fetch(url, { method, ...(method === "GET" ? {} : { body: "" }) });
    const text = await res.text();
    const error = ErrorBody.safeParse(text.startsWith("{") ? JSON.parse(text) : undefined);
    if (res.status === 405 || (error.success && error.data.message.startsWith("no route for")))
      unanswered.push(`${method} ${path} → ${res.status} ${text}`);
    // HEAD, which fastify adds for a GET (not for the event stream), answers as its GET does.
    const hasHead = server.routes.some((r) => r.method === "HEAD" && openApiPath(r.url) === path);
    if (method === "GET" && hasHead) {
      const head = await fetch(url, { method: "HEAD" });
      if (head.status !== res.status) unanswered.push(`HEAD ${path} → ${head.status}, GET → ${res.status}`);
    }
  }
  expect(unanswered).toEqual([]);
});

it("the answers documented for the GET routes without parameters are what the server sends", async () => {
  const checked: string[] = [];
  for (const route of server.routes) {
    const doc = ROUTE_DOCS[`${route.method} ${route.url}`];
    if (route.method !== "GET" || route.url.includes(":") || !doc?.response) continue;
    const body: unknown = (await jsonRequest(`${server.url}${route.url}`, "GET")).body;
    expect(doc.response.safeParse(body).error, route.url).toBeUndefined();
    checked.push(route.url);
  }
  expect(checked).toEqual(
    expect.arrayContaining(["/v1/machines", "/v1/differences", "/v1/tokens", "/v1/audit"]),
  );
});
