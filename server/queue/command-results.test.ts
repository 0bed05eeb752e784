// What a posted command result does: applied once, a retried post is a duplicate, stale leases refused.
import { describe, expect, it } from "vitest";
import type { CommandResult } from "../../protocol/index.js";
import { decideResult, type StoredCommand } from "./command-results.js";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const leased: StoredCommand = {
  id: "c1",
  kind: "check-disks",
  state: "leased",
  onSuccess: "ready",
  leaseId: "L1",
  leaseExpiresAt: "2026-01-01T00:05:00.000Z",
};
const ok: CommandResult = { leaseId: "L1", outcome: "succeeded", output: { kind: "check-disks", disks: [] } };

describe("decideResult", () => {
  it("applies a success under the current lease: the machine moves to the command's category", () => {
    expect(decideResult(leased, "inventoried", ok, NOW)).toEqual({
      kind: "apply",
      state: "succeeded",
      category: "ready",
      clearExpected: false,
      inventory: null,
      error: null,
    });
  });

  it("a failure fails the machine and clears its expectation (no retry loop)", () => {
    const decision = decideResult(
      leased,
      "inventoried",
      { leaseId: "L1", outcome: "failed", error: "vda: short read" },
      NOW,
    );
    expect(decision).toMatchObject({
      kind: "apply",
      state: "failed",
      category: "failed",
      clearExpected: true,
      error: "vda: short read",
    });
  });

  it("the same result posted again is a duplicate, not a second effect", () => {
    expect(decideResult({ ...leased, state: "succeeded" }, "ready", ok, NOW)).toEqual({ kind: "duplicate" });
  });

  it("refuses an expired lease, a foreign lease, a cancelled or requeued command, and mismatched output", () => {
    const late = new Date("2026-01-01T00:05:00.001Z");
    expect(decideResult(leased, "inventoried", ok, late)).toMatchObject({
      kind: "refuse",
      reason: expect.stringContaining("expired") as string,
    });
    expect(decideResult(leased, "inventoried", { ...ok, leaseId: "L0" }, NOW)).toMatchObject({
      kind: "refuse",
    });
    expect(decideResult({ ...leased, state: "cancelled" }, "inventoried", ok, NOW)).toMatchObject({
      kind: "refuse",
    });
    expect(decideResult({ ...leased, state: "queued" }, "inventoried", ok, NOW)).toMatchObject({
      kind: "refuse",
    });
    expect(
      decideResult(
        { ...leased, state: "succeeded" },
        "ready",
        { leaseId: "L1", outcome: "failed", error: "x" },
        NOW,
      ),
    ).toMatchObject({
      kind: "refuse",
    });
    const wrongOutput: CommandResult = {
      leaseId: "L1",
      outcome: "succeeded",
      output: { kind: "report-inventory", inventory: {} as never },
    };
    expect(decideResult(leased, "inventoried", wrongOutput, NOW)).toMatchObject({ kind: "refuse" });
  });

  it("a success whose move is illegal fails the machine with the reason", () => {
    expect(decideResult(leased, "discovered", ok, NOW)).toMatchObject({
      kind: "apply",
      state: "failed",
      error: expect.stringContaining("cannot move from discovered to ready") as string,
    });
  });
});
