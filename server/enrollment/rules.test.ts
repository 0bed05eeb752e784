// The pure enrollment rules: what tells two machines apart (a placeholder serial never does), what the
// policy admits, and the order of the decision (an approval first, then changed hardware, then a lease).
import { describe, expect, it } from "vitest";
import { sampleInventory } from "../test-support.js";
import {
  admits,
  compareEvidence,
  decideEnrollment,
  evidenceOf,
  leaseEndsInReboot,
  realSerial,
} from "./rules.js";

const inv = (serial: string | null, macs: string[]) =>
  sampleInventory({
    bootMac: macs[0] ?? "52:54:00:00:00:01",
    nics: macs.map((mac, i) => ({ name: `eth${i}`, mac })),
    system: { manufacturer: "Acme", product: "X1", serial, uuid: null },
  });

describe("compareEvidence", () => {
  const known = evidenceOf(inv("SN-1", ["52:54:00:00:00:01", "52:54:00:00:00:02"]));

  it("same serial and MACs: same; another serial or MAC set: changed, saying what", () => {
    expect(
      compareEvidence(known, evidenceOf(inv("SN-1", ["52:54:00:00:00:02", "52:54:00:00:00:01"]))),
    ).toEqual({
      kind: "same",
    });
    expect(
      compareEvidence(known, evidenceOf(inv("SN-2", ["52:54:00:00:00:01", "52:54:00:00:00:02"]))),
    ).toEqual({
      kind: "changed",
      what: "serial SN-1 → SN-2",
    });
    expect(compareEvidence(known, evidenceOf(inv("SN-1", ["52:54:00:00:00:01"])))).toEqual({
      kind: "changed",
      what: "MACs gone: 52:54:00:00:00:02",
    });
  });

  it("no MAC in common and another serial: different; a placeholder serial matches nothing", () => {
    expect(compareEvidence(known, evidenceOf(inv("SN-9", ["52:54:00:00:00:09"]))).kind).toBe("different");
    const placeholder = evidenceOf(inv("To Be Filled By O.E.M.", ["52:54:00:00:00:01"]));
    expect(placeholder.serial).toBeNull();
    expect(
      compareEvidence(placeholder, evidenceOf(inv("To Be Filled By O.E.M.", ["52:54:00:00:00:09"]))).kind,
    ).toBe("different");
    // The same real serial with every MAC new: the same board with new NICs, for an operator to approve.
    expect(compareEvidence(known, evidenceOf(inv("SN-1", ["52:54:00:00:00:09"]))).kind).toBe("changed");
  });

  it("realSerial drops blanks, zeros and vendors' defaults", () => {
    for (const serial of [null, "", "  ", "0000000", "Default string", "System Serial Number", "0123456789"])
      expect(realSerial(serial)).toBeNull();
    expect(realSerial(" CZ1234ABCD ")).toBe("CZ1234ABCD");
  });
});

describe("admits", () => {
  it("auto admits all; approve none; allowlist by any NIC's MAC, the serial or the chassis asset tag", () => {
    const machine = inv("SN-1", ["52:54:00:00:00:01", "52:54:00:00:00:02"]);
    expect(admits(undefined, machine)).toEqual({ ok: true });
    expect(admits({ enrollment: "approve" }, machine).ok).toBe(false);
    const list = (macs: string[], serials: string[], assetTags: string[] = []) => ({
      enrollment: "allowlist" as const,
      allowlist: { macs, serials, assetTags },
    });
    expect(admits(list(["52:54:00:00:00:02"], []), machine).ok).toBe(true);
    expect(admits(list([], ["SN-1"]), machine).ok).toBe(true);
    expect(admits(list(["52:54:00:00:00:09"], ["SN-9"], ["A-1"]), machine)).toEqual({
      ok: false,
      reason: "awaiting approval (not on the allowlist)",
    });
  });
});

describe("decideEnrollment", () => {
  const lease = { kind: "write-image" as const, until: "2030-01-01T00:00:00.000Z" };
  const changed = { kind: "changed" as const, what: "serial A → B" };
  const no = { ok: false as const, reason: "awaiting approval (enrollment: approve)" };

  it("an approval lets everything through", () => {
    expect(
      decideEnrollment({ state: "approved", admission: no, comparison: changed, liveLease: lease }),
    ).toEqual({
      kind: "enroll",
    });
  });

  it("a machine never admitted waits on the policy alone", () => {
    for (const state of [undefined, "pending", "awaiting-approval"] as const) {
      expect(
        decideEnrollment({ state, admission: no, comparison: undefined, liveLease: undefined }),
      ).toMatchObject({
        kind: "refuse",
        code: "awaiting_approval",
        state: "awaiting-approval",
      });
      expect(
        decideEnrollment({ state, admission: { ok: true }, comparison: undefined, liveLease: undefined }),
      ).toEqual({ kind: "enroll" });
    }
  });

  it("an admitted machine waits for changed hardware, then for a live lease; else it enrolls", () => {
    expect(
      decideEnrollment({ state: "enrolled", admission: no, comparison: changed, liveLease: lease }),
    ).toMatchObject({
      code: "awaiting_approval",
      state: "held",
      reason: expect.stringMatching(/serial A → B/) as string,
    });
    expect(
      decideEnrollment({ state: "enrolled", admission: no, comparison: { kind: "same" }, liveLease: lease }),
    ).toMatchObject({
      code: "enrollment_held",
      state: "held",
      reason: expect.stringMatching(/write-image/) as string,
    });
    expect(
      decideEnrollment({ state: "held", admission: no, comparison: { kind: "same" }, liveLease: undefined }),
    ).toEqual({ kind: "enroll" });
  });
});

describe("leaseEndsInReboot", () => {
  it("only boot-installed: a machine rebooting into its install may pass through the loader", () => {
    expect(leaseEndsInReboot("boot-installed")).toBe(true);
    for (const kind of [
      "check-disks",
      "run-agent",
      "write-image",
      "report-inventory",
      "run-maintenance",
    ] as const)
      expect(leaseEndsInReboot(kind)).toBe(false);
  });
});
