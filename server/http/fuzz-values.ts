// Test support for fuzz-requests.ts: values from a seeded PRNG — junk JSON (wrong types, huge strings,
// deep nesting, prototype keys), values shaped like a route's JSON schema, and one-spot mutations of them.
import * as z from "zod";

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

export type Rng = () => number;
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

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
export function deepNesting(rng: Rng, most = 15_000): string {
  const depth = 500 + Math.floor(rng() * most);
  return rng() < 0.5
    ? "[".repeat(depth) + "]".repeat(depth)
    : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

export function junkValue(rng: Rng, depth = 0): unknown {
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

export type JsonSchema = Record<string, unknown>;
export const isRecord = (value: unknown): value is JsonSchema => typeof value === "object" && value !== null;

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
export function fromSchema(schema: unknown, rng: Rng, depth = 0): unknown {
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
export function mutate(value: unknown, rng: Rng): unknown {
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

export function zodOf(schema: unknown): z.ZodType | undefined {
  return schema instanceof z.ZodType ? schema : undefined;
}
