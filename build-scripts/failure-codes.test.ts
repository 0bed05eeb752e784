// Every error class of agent/, server/, build-scripts/ and bench/ is built on protocol/failure.ts's
// BootwrightError with a code from its catalogue, one class name per code, and every catalogued code is in
// use. A scan of the sources, so a new class is checked without being listed anywhere; it lives here
// because protocol/ does no I/O (its own test, protocol/failure.test.ts, checks the catalogue's texts).
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { FAILURE_CODES, type FailureCode } from "../protocol/index.js";

const ROOT = resolve(import.meta.dirname, "..");
const DIRS = ["agent", "server", "protocol", "build-scripts", "bench"];
const BASE = "BootwrightError";
/** The one class whose codes are the wire's (protocol/errors.ts), not the in-process catalogue's. */
const WIRE = { file: "server/errors.ts", name: "ApiError", typeArgument: "ErrorCode" };
const BUILTIN_ERRORS = new Set(["Error", "TypeError", "RangeError", "SyntaxError", "AggregateError"]);

/**
 * Classes that still extend Error directly, each with its code and why. An entry that no longer applies
 * fails the test: remove it then.
 */
const PENDING: readonly { file: string; name: string; code: FailureCode; why: string }[] = [];

interface ErrorClass {
  file: string;
  name: string;
  parent: string;
  /** The type argument given to BootwrightError, verbatim (`"command_failed"`, `ErrorCode`). */
  typeArgument: string | undefined;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts") && !file.includes("node_modules"))
    .map((file) => join(dir, file));
}

function classesIn(file: string): ErrorClass[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const found: ErrorClass[] = [];
  for (const match of text.matchAll(/\bclass\s+(\w+)(?:<[^{]*?>)?\s+extends\s+(\w+)(?:<([^{>]*)>)?/g)) {
    const [, name = "", parent = "", typeArgument] = match;
    found.push({ file, name, parent, typeArgument: typeArgument?.trim() });
  }
  return found;
}

const all = DIRS.flatMap(sources).flatMap(classesIn);
const byName = new Map(all.map((c) => [c.name, c]));

/** The class's code as its chain up to BootwrightError gives it; undefined when it is not built on it. */
function classCode(c: ErrorClass, depth = 0): string | undefined {
  if (c.parent === BASE) return c.typeArgument?.match(/^"(\w+)"$/)?.[1] ?? c.typeArgument;
  const parent = byName.get(c.parent);
  return parent && depth < 10 ? classCode(parent, depth + 1) : undefined;
}

const errors = all.filter((c) => c.parent === BASE || classCode(c) !== undefined);

describe("error classes", () => {
  it("finds them (the scan works)", () => {
    expect(errors.length).toBeGreaterThan(20);
    expect(errors.map((c) => c.name)).toEqual(
      expect.arrayContaining(["CommandError", "ApiError", "IpmitoolError"]),
    );
  });

  it("are all built on BootwrightError: none extends Error itself", () => {
    const direct = all
      .filter((c) => BUILTIN_ERRORS.has(c.parent) && !(c.name === BASE && c.file === "protocol/failure.ts"))
      .map((c) => `${c.file} ${c.name}`);
    expect(direct).toEqual(PENDING.map((p) => `${p.file} ${p.name}`));
  });

  it("give BootwrightError a catalogued code as a literal (ApiError alone takes the wire's)", () => {
    for (const c of errors.filter((e) => e.parent === BASE)) {
      const where = `${c.file} ${c.name}`;
      if (c.name === WIRE.name && c.file === WIRE.file) expect(c.typeArgument, where).toBe(WIRE.typeArgument);
      else {
        expect(c.typeArgument, where).toMatch(/^"\w+"$/);
        expect(Object.keys(FAILURE_CODES), where).toContain(classCode(c));
      }
    }
  });

  it("use each code under one class name (the same class in two programs may share it)", () => {
    const names = new Map<string, Set<string>>();
    for (const c of errors) {
      const code = classCode(c) ?? "";
      if (c.parent === BASE) names.set(code, (names.get(code) ?? new Set()).add(c.name));
    }
    for (const [code, classes] of names) expect([...classes], code).toHaveLength(1);
  });

  it("use every catalogued code: the catalogue has no dead entry", () => {
    const used = new Set([...errors.map((c) => classCode(c)), ...PENDING.map((p) => p.code)]);
    expect(Object.keys(FAILURE_CODES).filter((code) => !used.has(code))).toEqual([]);
  });

  it("pending classes still declare their catalogued code", () => {
    for (const p of PENDING) {
      const text = readFileSync(join(ROOT, p.file), "utf8");
      expect(text, p.file).toContain(`readonly code = "${p.code}"`);
    }
  });
});
