// Durations from the CLI (--timeout 20m) and the policy file (timeout: 20m, or a YAML number of ms).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hasCode, type BootwrightError } from "../../protocol/index.js";
import { parseDuration } from "./duration.js";

function durationError(text: string | number): BootwrightError<"duration_invalid"> {
  try {
    parseDuration(text);
  } catch (error) {
    if (hasCode(error, "duration_invalid")) return error;
    throw error;
  }
  throw new Error(`expected ${String(text)} to be refused`);
}

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["90s", 90_000],
    ["20m", 1_200_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1h30m", 5_400_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["1m500ms", 60_500],
    ["1.5h", 5_400_000],
    ["0.5s", 500],
    ["1.0006s", 1_001], // fractions of a millisecond are rounded
    ["0s", 0],
    ["0", 0],
    [" 20m\n", 1_200_000],
    ["007m", 420_000],
  ])("reads %j as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    [0, 0],
    [1500, 1500],
    [1.6, 2],
  ])("takes the number %d as milliseconds", (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  const expected = "is not valid: expected a number and a unit (d, h, m, s, ms), e.g. 90s, 20m, 1h30m";
  it.each([
    ["", `duration "" ${expected}`],
    ["   ", `duration "   " ${expected}`],
    ["20x", `duration "20x" ${expected}`],
    ["20M", `duration "20M" ${expected}`],
    ["m", `duration "m" ${expected}`],
    ["-5m", `duration "-5m" ${expected}`],
    ["+5m", `duration "+5m" ${expected}`],
    ["1h 30m", `duration "1h 30m" ${expected}`],
    ["1e3s", `duration "1e3s" ${expected}`],
    [".5s", `duration ".5s" ${expected}`],
    ["1h30", `duration "1h30" ${expected}`],
    ["20 minutes", `duration "20 minutes" ${expected}`],
    ["20", 'duration "20" has no unit: use d, h, m, s, ms, e.g. "20m"'],
    ["1.5", 'duration "1.5" has no unit: use d, h, m, s, ms, e.g. "1.5m"'],
    ["30m1h", 'duration "30m1h" is not valid: units go largest first, each once'],
    ["1h1h", 'duration "1h1h" is not valid: units go largest first, each once'],
    ["9999999999999d", 'duration "9999999999999d" is too long'],
    [-1, "duration -1 is not valid: milliseconds must be a finite number, 0 or more"],
    [Number.NaN, "duration NaN is not valid: milliseconds must be a finite number, 0 or more"],
    [Infinity, "duration Infinity is not valid: milliseconds must be a finite number, 0 or more"],
    [2 ** 60, `duration ${2 ** 60} is too long`],
  ])("refuses %j", (text, message) => {
    const error = durationError(text);
    expect(error.name).toBe("DurationError");
    expect(error.message).toBe(message);
    expect(error.context.text).toBe(text);
  });

  it("reads any d/h/m/s/ms combination, largest first, as their sum", () => {
    const part = fc.integer({ min: 0, max: 999 });
    fc.assert(
      fc.property(fc.record({ d: part, h: part, m: part, s: part, ms: part }), (parts) => {
        const text = Object.entries(parts)
          .filter(([, n]) => n > 0)
          .map(([unit, n]) => `${n}${unit}`)
          .join("");
        const ms = parts.d * 86_400_000 + parts.h * 3_600_000 + parts.m * 60_000 + parts.s * 1_000 + parts.ms;
        expect(parseDuration(text || "0")).toBe(ms);
      }),
    );
  });
});
