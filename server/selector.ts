// Bulk selection of machines by one fact (pure): the value at a dotted path of the machine record
// (or one element of a list there, as its tags).
import type { Machine, MachineSummary } from "../protocol/index.js";

export interface Where {
  path: string;
  equals: string | number | boolean | null;
}

/** The value at `a.b.0.c` inside `value`, or undefined when the path leads nowhere. */
export function valueAt(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/**
 * Paths with a shorter name: `tag=rack12` reads as "one of its tags is rack12"; `product=X1` as the
 * policy's fact of that name (SMBIOS type 1, inventory.system).
 */
const ALIASES: Readonly<Record<string, string>> = {
  tag: "tags",
  product: "inventory.system.product",
  manufacturer: "inventory.system.manufacturer",
  serial: "inventory.system.serial",
};

/**
 * `key=value` → a selector; the value is JSON when it parses (numbers, true, null), else a string.
 * `tag=value` selects machines with that tag (a tag is always a string, even one that reads as a number).
 */
export function parseWhere(raw: string): Where {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new Error(`--where wants path=value, e.g. inventory.system.product=X1 (got ${raw})`);
  const text = raw.slice(eq + 1);
  const path = raw.slice(0, eq);
  if (path === "tag") return { path: "tags", equals: text };
  let equals: Where["equals"] = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || ["number", "boolean", "string"].includes(typeof parsed))
      equals = parsed as Where["equals"];
  } catch {
    // not JSON: a plain string
  }
  return { path, equals };
}

/** Whether the machine's value at the path equals the value; for a list (its tags), whether one element does. */
export function matchesWhere(machine: Machine | MachineSummary, where: Where): boolean {
  const path = Object.hasOwn(ALIASES, where.path) ? (ALIASES[where.path] ?? where.path) : where.path;
  const value = valueAt(machine, path);
  return Array.isArray(value) ? value.includes(where.equals) : value === where.equals;
}
