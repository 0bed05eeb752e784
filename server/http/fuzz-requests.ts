// Test support for fuzz.test.ts: bad requests generated from the routes the app declares (their
// method, path, access and zod schemas), from a seeded PRNG so that request n of seed s is always the
// same request. Each request is bad by construction (a wrong token, an unknown id, a body or query its
// schema refuses, a method or path the app does not have); one that might be a valid change is sent
// with a bad token instead, so the store must come out of the run unchanged.
import { parse as parseQuery } from "node:querystring";
import { z } from "zod";
import { ROLE_RANK, type Role } from "../../protocol/index.js";
import type { RouteInfo } from "./app.js";

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

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
}

const NASTY_STRINGS = [
  "",
  " ",
  "..",
  "../../../etc/passwd",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "💥".repeat(300),
  "A".repeat(20_000),
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "${jndi:ldap://x/}",
  "-1",
  "1e309",
  "NaN",
  "null",
  "{}",
  "\r\nX-Injected: 1",
  "ｆｕｌｌｗｉｄｔｈ",
  "2147483648",
];

/** Path parameter values the app cannot know: raw path text (no "?" or "#"), some of it percent tricks. */
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

function deepNesting(rng: Rng, most = 15_000): string {
  const depth = 500 + Math.floor(rng() * most);
  return rng() < 0.5
    ? "[".repeat(depth) + "]".repeat(depth)
    : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

function junkValue(rng: Rng, depth = 0): unknown {
  switch (Math.floor(rng() * 9)) {
    case 0:
      return pick(rng, NASTY_STRINGS);
    case 1:
      return pick(rng, [-1, 0, 1e308, -1e308, 2 ** 53 + 1, 0.5, -0, 123_456_789_012]);
    case 2:
      return pick(rng, [true, false, null]);
    case 3:
      return depth > 3 ? [] : Array.from({ length: Math.floor(rng() * 4) }, () => junkValue(rng, depth + 1));
    case 4:
      return JSON.parse(deepNesting(rng, 2_000)) as unknown; // shallow enough for JSON.stringify
    case 5:
      return JSON.parse(
        '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
      ) as unknown;
    case 6:
      return Array.from({ length: 2_000 }, (_, i) => i);
    default:
      return depth > 3 ? {} : { [pick(rng, ["a", "id", "$where", "__proto__"])]: junkValue(rng, depth + 1) };
  }
}

type JsonSchema = Record<string, unknown>;
const isRecord = (value: unknown): value is JsonSchema => typeof value === "object" && value !== null;

function schemaString(schema: JsonSchema, rng: Rng): string {
  if (schema.format === "date-time")
    return new Date(Date.UTC(2026, 0, 1 + Math.floor(rng() * 300))).toISOString();
  const candidates = [
    "a",
    "abc",
    "x1",
    "debian-12",
    "0".repeat(64),
    "deadbeef".repeat(8),
    "52:54:00:aa:00:01",
  ];
  if (typeof schema.pattern === "string") {
    const pattern = new RegExp(schema.pattern);
    return candidates.find((c) => pattern.test(c)) ?? "a";
  }
  return pick(rng, candidates);
}

/** A value shaped like the JSON schema (roughly: the point is to get past the first checks). */
function fromSchema(schema: unknown, rng: Rng, depth = 0): unknown {
  if (!isRecord(schema) || depth > 8) return junkValue(rng);
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum)) return pick(rng, schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union) && union.length > 0) return fromSchema(pick(rng, union), rng, depth + 1);
  const type = Array.isArray(schema.type) ? pick(rng, schema.type as unknown[]) : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
      for (const [key, sub] of Object.entries(isRecord(schema.properties) ? schema.properties : {}))
        if (required.includes(key) || rng() < 0.5) out[key] = fromSchema(sub, rng, depth + 1);
      return out;
    }
    case "array":
      return Array.from({ length: Math.floor(rng() * 3) }, () => fromSchema(schema.items, rng, depth + 1));
    case "string":
      return schemaString(schema, rng);
    case "integer":
    case "number": {
      const min = typeof schema.minimum === "number" ? schema.minimum : 0;
      const max = typeof schema.maximum === "number" ? Math.min(schema.maximum, min + 1_000) : min + 1_000;
      return Math.floor(min + rng() * (max - min)) + (typeof schema.exclusiveMinimum === "number" ? 1 : 0);
    }
    case "boolean":
      return rng() < 0.5;
    case "null":
      return null;
    default:
      return junkValue(rng);
  }
}

/** One spot of `value` made wrong: a leaf replaced by junk, a key dropped, or an unknown key added. */
function mutate(value: unknown, rng: Rng): unknown {
  if (Array.isArray(value) && value.length > 0 && rng() < 0.7) {
    const copy = Array.from<unknown>(value);
    const i = Math.floor(rng() * copy.length);
    copy[i] = mutate(copy[i], rng);
    return copy;
  }
  if (isRecord(value) && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const copy: Record<string, unknown> = { ...value };
    const roll = rng();
    const key = keys.length > 0 ? pick(rng, keys) : undefined;
    if (key !== undefined && roll < 0.6) copy[key] = mutate(copy[key], rng);
    else if (key !== undefined && roll < 0.8) Reflect.deleteProperty(copy, key);
    // defineProperty: assigning "__proto__" would set the prototype, not add the key.
    else
      Object.defineProperty(copy, pick(rng, ["unexpected", "__proto__", "constructor", "x".repeat(500)]), {
        value: junkValue(rng),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return copy;
  }
  return junkValue(rng);
}

function zodOf(schema: unknown): z.ZodType | undefined {
  return schema instanceof z.ZodType ? schema : undefined;
}

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });
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

function makeBody(route: RouteInfo, rng: Rng, limit: number): Body {
  const schema = zodOf(route.schema.body);
  const nearValid = (): unknown => (schema ? fromSchema(jsonSchemaOf(schema), rng) : junkValue(rng));
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
    const shaped = querySchema ? fromSchema(jsonSchemaOf(querySchema), rng) : {};
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
    } else body = makeBody(route, rng, ctx.bodyLimitBytes);
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
