// toSchemaIssues: zod issues as the wire shows them (a dotted path, "(root)" for the body itself).
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { ERROR_CODES, ErrorBody, ErrorCode, toSchemaIssues } from "./errors.js";

describe("toSchemaIssues", () => {
  const Body = z.strictObject({ nics: z.array(z.strictObject({ mac: z.string() })) });

  it('joins a nested path with dots: "nics.0.mac"', () => {
    const result = Body.safeParse({ nics: [{ mac: 7 }] });
    expect(toSchemaIssues(result.error?.issues ?? []).map((issue) => issue.path)).toEqual(["nics.0.mac"]);
  });

  it("counts array indexes from zero and keeps the message", () => {
    const result = Body.safeParse({ nics: [{ mac: "52:54:00:12:34:56" }, { mac: 7 }] });
    expect(result.success).toBe(false);
    const issues = toSchemaIssues(result.error?.issues ?? []);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe("nics.1.mac");
    expect(issues[0]?.message).toMatch(/string/);
  });

  it('says "(root)" when the body itself is wrong', () => {
    const result = Body.safeParse("not an object");
    const issues = toSchemaIssues(result.error?.issues ?? []);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe("(root)");
  });

  it("names an unknown key of a strict object at its parent's path", () => {
    const result = Body.safeParse({ nics: [{ mac: "x", speed: 1 }] });
    const issues = toSchemaIssues(result.error?.issues ?? []);
    expect(issues.map((issue) => issue.path)).toEqual(["nics.0"]);
    expect(issues[0]?.message).toMatch(/speed/);
  });

  it("returns no issues for no issues", () => {
    expect(toSchemaIssues([])).toEqual([]);
  });
});

describe("ErrorCode and ErrorBody", () => {
  it("ErrorCode accepts exactly the catalogue's codes", () => {
    expect([...ErrorCode.options].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(ErrorCode.safeParse("no_such_code").success).toBe(false);
  });

  it("ErrorBody is strict and details are optional", () => {
    expect(ErrorBody.parse({ code: "internal", message: "boom" })).toEqual({
      code: "internal",
      message: "boom",
    });
    expect(ErrorBody.safeParse({ code: "internal", message: "boom", extra: 1 }).success).toBe(false);
  });
});
