// The error catalogue is complete: every code documented and mapped to one HTTP status (style.md §7); the
// server's two error classes keep what the wire sends and are matched by code.
import { describe, expect, it } from "vitest";
import { ERROR_CODES, hasCode, type ErrorCode } from "../protocol/index.js";
import { ApiError, HTTP_STATUS, isApiError, ServerError } from "./errors.js";

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

describe("ApiError", () => {
  it("keeps the wire's code, message and details as given, and its HTTP status in the context", () => {
    const cause = new Error("ENOSPC");
    const err = new ApiError(
      "upload_offset",
      "chunk at 10 but the upload stands at 4",
      { received: 4 },
      { cause },
    );
    expect(err).toMatchObject({
      name: "ApiError",
      code: "upload_offset",
      message: "chunk at 10 but the upload stands at 4",
      details: { received: 4 },
      context: { status: 409 },
      cause,
    });
    expect(new ApiError("not_found", "no such machine").details).toBeUndefined();
  });

  it("is told apart by its code: isApiError and hasCode", () => {
    const err: unknown = new ApiError("not_found", "no such machine");
    expect(isApiError(err)).toBe(true);
    expect(hasCode(err, "not_found")).toBe(true);
    const others: unknown[] = [
      new ServerError("policy row vanished"),
      Object.assign(new Error("disk full"), { code: "ENOSPC" }),
      Object.assign(new Error("body too large"), { code: "FST_ERR_CTP_BODY_TOO_LARGE" }),
      new Error("plain"),
      "not_found",
    ];
    for (const other of others) expect(isApiError(other)).toBe(false);
  });
});

describe("ServerError", () => {
  it("has its code, its name and the original on cause", () => {
    const cause = new Error("EADDRINUSE");
    const err = new ServerError("cannot listen on 0.0.0.0:8080", { cause });
    expect(err).toMatchObject({ name: "ServerError", code: "server_failure", context: {}, cause });
    expect(hasCode(err, "server_failure")).toBe(true);
  });
});
