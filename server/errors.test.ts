// The error catalogue is complete: every code documented and mapped to one HTTP status (style.md §7).
import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode } from "../protocol/index.js";
import { HTTP_STATUS } from "./errors.js";

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe("error catalogue", () => {
  it.each(codes)("%s has a description and an HTTP error status", (code) => {
    expect(ERROR_CODES[code].trim()).not.toBe("");
    const status = HTTP_STATUS[code];
    expect(Number.isInteger(status)).toBe(true);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
  });

  it("maps no code that the catalogue does not have", () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...codes].sort());
  });
});
