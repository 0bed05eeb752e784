// Test support for fuzz.test.ts: bad requests generated from the routes the app declares (their
// method, path, access and zod schemas), from a seeded PRNG so that request n of seed s is always the
// same request. Each request is bad by construction (a wrong token, an unknown id, a body or query its
// schema refuses, a method or path the app does not have); one that might be a valid change is sent
// with a bad token instead, so the store must come out of the run unchanged.
import { parse as parseQuery } from "node:querystring";
import * as z from "zod";
import { ROLE_RANK, type Role } from "../../protocol/index.js";
import type { RouteInfo } from "./app.js";
import {
  deepNesting,
  fromSchema,
  isRecord,
  junkValue,
  mutate,
  pick,
  prng,
  zodOf,
  type JsonSchema,
  type Rng,
} from "./fuzz-values.js";

export type TokenKind = "none" | "garbage" | "revoked" | "viewer" | "operator" | "admin" | "machine";
const BAD_TOKENS: readonly TokenKind[] = ["none", "garbage", "revoked"];

export interface FuzzRequest {
  method: string;
  /** The raw request target, sent as it is (path tricks included). */
  path: string;
  token: TokenKind;
  headers: Record<string, string>;
  body?: Buffer;
  /** What makes it bad, for the failure report. */
  why: string[];
}

/** What the generator needs from the running server besides its routes. */
export interface FuzzContext {
  routes: readonly RouteInfo[];
  /** A machine that exists, for /v1/machines/:id (its own credential is the "machine" token). */
  machineId: string;
  bodyLimitBytes: number;
  /** JSON schemas of the routes' zod schemas (jsonSchemas()). */
  jsonSchema: (schema: z.ZodType) => JsonSchema;
}

const BAD_SEGMENTS = [
  "..",
  "%2e%2e",
  "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
  "..%2f..%2fsecret.key",
  "%00",
  "a%00b",
  "%ff%fe",
  "%",
  "%zz",
  "x".repeat(3_000),
  "%F0%9F%92%A5",
  "-1",
  "0x1",
  "1e400",
  "nul%0d%0aX-Injected:%201",
  "a/b",
  "../..",
  ".",
  "~root",
  "%20",
  "null",
  "undefined",
  "__proto__",
  "constructor",
  "00000000-0000-0000-0000-000000000000",
  "ZZ:ZZ:ZZ:ZZ:ZZ:ZZ",
  "f".repeat(64),
];

const PATH_TRICKS = [
  "/..",
  "/%2e%2e",
  "%00",
  "/%00",
  "/../../../etc/passwd",
  "/.%2e/",
  "//",
  "/",
  ";.json",
  "%20",
  "/x/../",
];

/** A route's zod schema as JSON schema, made once per schema (z.toJSONSchema is the generator's cost). */
export function jsonSchemas(): (schema: z.ZodType) => JsonSchema {
  const made = new Map<z.ZodType, JsonSchema>();
  return (schema) => {
    let json = made.get(schema);
    if (json === undefined) {
      json = z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });
      made.set(schema, json);
    }
    return json;
  };
}

/** Whether a token of `kind` may call a route of `access` (a machine's credential: its own routes). */
function sufficient(kind: TokenKind, access: RouteInfo["access"]): boolean {
  if (access === "public") return true;
  if (access === "machine") return kind === "admin" || kind === "machine";
  if (access === "os") return kind === "admin";
  const role: Role | undefined =
    kind === "viewer" || kind === "operator" || kind === "admin" ? kind : undefined;
  return role !== undefined && ROLE_RANK[role] >= ROLE_RANK[access];
}

const BAD_CONTENT_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=zz",
  "application/xml",
];
/** Types the server may read as JSON: a body sent with one of them counts as JSON for validity. */
const JSON_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "Application/JSON",
  "application/json;charset=latin1",
];

interface Body {
  bytes: Buffer;
  contentType: string | undefined;
  /** What the server could make of it, to check against the schema (undefined: nothing usable). */
  parsed: { value: unknown } | undefined;
  why: string;
}

function jsonBody(value: unknown, why: string, contentType = "application/json"): Body {
  return { bytes: Buffer.from(JSON.stringify(value)), contentType, parsed: { value }, why };
}

function makeBody(route: RouteInfo, rng: Rng, ctx: FuzzContext): Body {
  const limit = ctx.bodyLimitBytes;
  const schema = zodOf(route.schema.body);
  const nearValid = (): unknown => (schema ? fromSchema(ctx.jsonSchema(schema), rng) : junkValue(rng));
  const roll = rng();
  if (roll < 0.35) return jsonBody(mutate(nearValid(), rng), "one field wrong", pick(rng, JSON_TYPES));
  if (roll < 0.45) return jsonBody(junkValue(rng), "junk JSON");
  if (roll < 0.5) return jsonBody(nearValid(), "schema-shaped (maybe valid)");
  if (roll < 0.6) {
    const text = JSON.stringify(nearValid());
    const cut = text.slice(0, Math.floor(rng() * text.length));
    return {
      bytes: Buffer.from(cut),
      contentType: "application/json",
      parsed: lenientJson(cut),
      why: "truncated JSON",
    };
  }
  if (roll < 0.67) {
    const text = deepNesting(rng);
    return {
      bytes: Buffer.from(text),
      contentType: "application/json",
      parsed: lenientJson(text),
      why: "deep nesting",
    };
  }
  if (roll < 0.72)
    return {
      bytes: Buffer.from('"' + "A".repeat(limit + 1_000) + '"'),
      contentType: "application/json",
      parsed: undefined,
      why: "over the body limit",
    };
  if (roll < 0.77) {
    const raw = pick(rng, [
      "",
      "   ",
      "{}{}",
      '{"a":1,"a":2}',
      "\ufeff{}",
      "nul\u0000l",
      "[1,]",
      "{'a':1}",
      "NaN",
    ]);
    return {
      bytes: Buffer.from(raw),
      contentType: "application/json",
      parsed: lenientJson(raw),
      why: "not quite JSON",
    };
  }
  if (roll < 0.82)
    return {
      bytes: Buffer.from([0xff, 0xfe, 0x7b, 0xc3, 0x28, 0x7d]),
      contentType: "application/json",
      parsed: undefined,
      why: "invalid UTF-8",
    };
  if (roll < 0.92) {
    const bytes = Buffer.from(JSON.stringify(nearValid()));
    return { bytes, contentType: pick(rng, BAD_CONTENT_TYPES), parsed: undefined, why: "wrong content-type" };
  }
  const bytes = Buffer.from(Array.from({ length: Math.floor(rng() * 4_096) }, () => Math.floor(rng() * 256)));
  return { bytes, contentType: "application/octet-stream", parsed: { value: bytes }, why: "random bytes" };
}

/** JSON.parse, a BOM allowed: more than the server takes, so a body it might read counts as readable. */
function lenientJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text.replace(/^\ufeff/, "")) as unknown };
  } catch {
    return undefined;
  }
}

/** An alias bomb and other policies whose trouble is in the source text, not the upload's shape. */
function badPolicy(rng: Rng): { format: "yaml" | "json"; source: string } {
  const levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < 10; i++)
    levels.push(
      `a${i}: &a${i} [${Array<string>(10)
        .fill(`*a${i - 1}`)
        .join(", ")}]`,
    );
  return pick(rng, [
    { format: "yaml", source: `${levels.join("\n")}\nrules: *a9\n` },
    { format: "yaml", source: `a: &a {x: 1}\nb: &b {<<: [*a, *a, *a]}\nrules: [*b, *b]\n` },
    { format: "yaml", source: `${"[".repeat(5_000)}${"]".repeat(5_000)}` },
    { format: "yaml", source: `rules: ${"- ".repeat(3_000)}x` },
    { format: "json", source: deepNesting(rng) },
    { format: "yaml", source: "rules: !!js/function 'function(){}'" },
    { format: "yaml", source: "rules: *nowhere" },
  ]);
}

/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, where encodeURIComponent throws). */
function percent(text: string): string {
  return [...Buffer.from(text, "utf8")]
    .map((byte) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, "0")}`,
    )
    .join("");
}

/** Request number `n` of `seed`: always the same one. */
export function fuzzRequest(ctx: FuzzContext, seed: number, n: number): FuzzRequest {
  const rng = prng(seed ^ Math.imul(n + 1, 0x9e3779b9));
  const route = pick(rng, ctx.routes);
  const why: string[] = [];
  const params = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] ?? "");
  // Every parameter junk, except a machine route's :id, which is sometimes the machine that exists.
  const realId = route.url.startsWith("/v1/machines/:id") && rng() < 0.5;
  const segments = params.map((name) =>
    name === "id" && realId
      ? { bad: false, text: encodeURIComponent(ctx.machineId) }
      : { bad: true, text: pick(rng, BAD_SEGMENTS) },
  );
  const paramsBad = segments.some((segment) => segment.bad);
  let next = 0;
  let path = route.url.replace(/:(\w+)/g, () => segments[next++]?.text ?? "");
  if (paramsBad) why.push("unknown or malformed path parameter");

  let method = route.method;
  let structural = false;
  const roll = rng();
  if (roll < 0.08) {
    // A method no route of this URL has (another route of the same URL would be a request of its own).
    const taken = new Set(ctx.routes.filter((r) => r.url === route.url).map((r) => r.method));
    method = pick(
      rng,
      ["PATCH", "PUT", "POST", "DELETE", "GET", "OPTIONS"].filter((m) => !taken.has(m)),
    );
    if (params.length > 0 && !paramsBad) path = route.url.replace(/:(\w+)/g, () => pick(rng, BAD_SEGMENTS));
    structural = true;
    why.push(`method ${method} instead of ${route.method}`);
  } else if (roll < 0.16) {
    path += pick(rng, PATH_TRICKS);
    structural = true;
    why.push("path trick");
  }

  // The query: schema-shaped and maybe broken, or junk; bad only if its schema refuses it.
  let queryBad = false;
  const querySchema = zodOf(route.schema.querystring);
  if (querySchema || rng() < 0.2) {
    const shaped = querySchema ? fromSchema(ctx.jsonSchema(querySchema), rng) : {};
    const query = rng() < 0.5 ? mutate(shaped, rng) : shaped;
    const asText = (v: unknown): string =>
      typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v);
    const text = Object.entries(isRecord(query) ? query : {})
      .map(([k, v]) => `${percent(k)}=${percent(asText(v))}`)
      .join("&");
    if (text !== "") path += `?${text}${rng() < 0.2 ? `&${text}` : ""}`;
    queryBad = querySchema !== undefined && !querySchema.safeParse({ ...parseQuery(text) }).success;
    if (queryBad) why.push("query its schema refuses");
  }

  // The body, for methods that carry one.
  let body: Body | undefined;
  let bodyBad = false;
  if (method !== "GET" && method !== "HEAD" && rng() < 0.9) {
    if (route.url === "/v1/policy" && method === "PUT" && rng() < 0.3) {
      body = jsonBody(badPolicy(rng), "policy source that must be refused (alias bomb, deep nesting…)");
      bodyBad = true; // bad by construction: the schema takes any source text
    } else body = makeBody(route, rng, ctx);
    why.push(body.why);
    const schema = zodOf(route.schema.body);
    if (schema && !bodyBad) {
      const readable =
        body.parsed !== undefined &&
        (body.contentType === undefined || !BAD_CONTENT_TYPES.includes(body.contentType));
      bodyBad = !readable || body.parsed === undefined || !schema.safeParse(body.parsed.value).success;
    }
  }

  let token: TokenKind = pick(rng, [
    "admin",
    "admin",
    "admin",
    "machine",
    "viewer",
    "operator",
    "none",
    "garbage",
    "revoked",
  ]);
  const refusedForSure = paramsBad || queryBad || bodyBad || structural || !sufficient(token, route.access);
  if (!refusedForSure) {
    if (route.access === "public") {
      // Nothing here is bad yet and a token does not matter: break the path instead.
      path = path.replace(/(\?|$)/, (m) => `${pick(rng, PATH_TRICKS)}${m}`);
      why.push("path trick (the rest might have been valid)");
    } else {
      token = pick(rng, BAD_TOKENS);
      why.push("bad token (the rest might have been valid)");
    }
  }
  if (!sufficient(token, route.access)) why.push(`token: ${token}`);
  const headers: Record<string, string> = {};
  if (body?.contentType !== undefined) headers["content-type"] = body.contentType;
  if (rng() < 0.05) headers["x-bootwright-sha256"] = pick(rng, ["", "zz", "0".repeat(64)]);
  return { method, path, token, headers, ...(body ? { body: body.bytes } : {}), why };
}
