// Bulk selection of machines by one fact (pure): the value at a dotted path of the machine record
// (or one element of a list there, as its tags).
import type { Machine } from "../protocol/index.js";

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

/** Paths with a shorter name: `tag=rack12` reads as "one of its tags is rack12". */
const ALIASES: Readonly<Record<string, string>> = { tag: "tags" };

/** Whether the machine's value at the path equals the value; for a list (its tags), whether one element does. */
export function matchesWhere(machine: Machine, where: Where): boolean {
  const path = Object.hasOwn(ALIASES, where.path) ? (ALIASES[where.path] ?? where.path) : where.path;
  const value = valueAt(machine, path);
  return Array.isArray(value) ? value.includes(where.equals) : value === where.equals;
}
