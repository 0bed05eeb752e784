// Bulk selection of machines by one fact (pure): the value at a dotted path of the machine record.
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

export function matchesWhere(machine: Machine, where: Where): boolean {
  return valueAt(machine, where.path) === where.equals;
}
