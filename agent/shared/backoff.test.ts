// backoffDelayMs: doubling from initialMs, capped at maxMs, the jitter taking off up to its share.
import { describe, expect, it } from "vitest";
import { backoffDelayMs, sleep, type BackoffPolicy } from "./backoff.js";

const noJitter: BackoffPolicy = { initialMs: 1000, maxMs: 15_000, jitter: 0 };

describe("backoffDelayMs", () => {
  it("doubles from initialMs with each attempt, then stays at maxMs", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelayMs(attempt, noJitter, () => 0.5));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it("stays at maxMs for very large attempt numbers (no Infinity or NaN)", () => {
    expect(backoffDelayMs(5000, noJitter)).toBe(15_000);
  });

  it("treats attempt 0 or below like the first attempt", () => {
    expect(backoffDelayMs(0, noJitter)).toBe(1000);
    expect(backoffDelayMs(-3, noJitter)).toBe(1000);
  });

  it("with jitter, lies between base × (1 − jitter) (random 0) and base (random 1)", () => {
    const policy: BackoffPolicy = { initialMs: 1000, maxMs: 15_000, jitter: 0.2 };
    expect(backoffDelayMs(1, policy, () => 0)).toBe(800);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(1000);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(3200);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(4000);
    // The cap applies before the jitter: never above maxMs.
    expect(backoffDelayMs(10, policy, () => 0)).toBe(12_000);
    expect(backoffDelayMs(10, policy, () => 1)).toBe(15_000);
  });

  it("stays within those bounds for Math.random", () => {
    const policy: BackoffPolicy = { initialMs: 1000, maxMs: 15_000, jitter: 0.5 };
    for (let i = 0; i < 200; i++) {
      const ms = backoffDelayMs(2, policy);
      expect(ms).toBeGreaterThanOrEqual(1000);
      expect(ms).toBeLessThanOrEqual(2000);
    }
  });
});

describe("sleep", () => {
  it("rejects with an AbortError when its signal aborts", async () => {
    const controller = new AbortController();
    const sleeping = sleep(60_000, controller.signal);
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ name: "AbortError" });
  });
});
