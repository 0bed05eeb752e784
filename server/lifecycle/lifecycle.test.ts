// The pure parts of issue 18: what retirement blocks in the reconciler, the tag arithmetic, why a
// machine cannot be deleted, `tags` as a policy fact and a selector, and the CLI's +tag/-tag words.
import { describe, expect, it } from "vitest";
import type { Machine, MaintenanceRun } from "../../protocol/index.js";
import { parseTagChanges } from "../cli/lifecycle-commands.js";
import type { CommandRecord } from "../db/rows.js";
import { resolvePolicy } from "../policy/resolve.js";
import { differenceOf } from "../queue/reconciler.js";
import { matchesWhere } from "../selector.js";
import { sampleInventory } from "../test-support.js";
import { changedTags } from "./labels.js";
import { busyReason } from "./remove.js";

const retired = { by: "alice", at: "2026-01-01T00:00:00.000Z" };
const AT = "2026-01-01T00:00:00.000Z";

function command(
  kind: CommandRecord["kind"],
  state: CommandRecord["state"],
  leaseExpiresAt: string | null = null,
): CommandRecord {
  return {
    id: `${kind}-1`,
    machineId: "m",
    kind,
    onSuccess: "installed",
    state,
    attempts: 0,
    leaseId: null,
    leaseExpiresAt,
    leaseUntil: null,
    error: null,
    createdAt: AT,
    updatedAt: AT,
  };
}

describe("a retired machine's difference", () => {
  it("is blocked with who and when whenever its path plans or installs it", () => {
    for (const [category, expected] of [
      ["inventoried", "installed"],
      ["ready", "planned"],
      ["planned", "installed"],
      ["imaging", "installed"],
    ] as const)
      expect(differenceOf({ id: "m", category, expected, retired })).toEqual({
        machineId: "m",
        current: category,
        expected,
        commands: [],
        blocked:
          "retired by alice at 2026-01-01T00:00:00.000Z: it is not planned or installed (bootwright unretire m)",
      });
  });

  it("still gets what only looks (inventory, disk checks) and the way back from maintenance", () => {
    expect(differenceOf({ id: "m", category: "inventoried", expected: "ready", retired })?.commands).toEqual([
      { kind: "check-disks", onSuccess: "ready" },
    ]);
    expect(
      differenceOf({ id: "m", category: "maintenance", expected: "installed", retired })?.blocked,
    ).toBeNull();
    expect(differenceOf({ id: "m", category: "installed", expected: "installed", retired })).toBeUndefined();
  });
});

describe("tags", () => {
  it("change sorted, without repeats; one both removed and added stays", () => {
    expect(changedTags(["b", "a"], { add: ["c", "a"], remove: ["b", "x"] })).toEqual(["a", "c"]);
    expect(changedTags(["a"], { add: ["a"], remove: ["a"] })).toEqual(["a"]);
  });

  it("are a policy fact: equals and glob hold when one tag does", () => {
    const policy = {
      rules: [
        { name: "rack", match: [{ fact: "tags", glob: "rack1?" }], plan: { image: "a" } },
        { name: "untagged", match: [{ fact: "tags", exists: false }], plan: { image: "b" } },
      ],
    };
    const inventory = sampleInventory();
    expect(resolvePolicy(policy, inventory, { tags: ["spare", "rack12"] })).toMatchObject({ rule: "rack" });
    expect(resolvePolicy(policy, inventory, { tags: [] })).toMatchObject({ rule: "untagged" });
    expect(resolvePolicy(policy, inventory)).toMatchObject({ rule: "untagged" });
  });

  it("select: tag=x (or tags=x) matches a machine with that tag", () => {
    const machine = { tags: ["rack12", "spare"], category: "installed" } as unknown as Machine;
    expect(matchesWhere(machine, { path: "tag", equals: "rack12" })).toBe(true);
    expect(matchesWhere(machine, { path: "tags", equals: "spare" })).toBe(true);
    expect(matchesWhere(machine, { path: "tag", equals: "rack1" })).toBe(false);
    expect(matchesWhere(machine, { path: "toString", equals: "x" })).toBe(false);
  });

  it("on the command line are +add and -remove words", () => {
    expect(parseTagChanges(["+rack12", "-spare", "+gpu"])).toEqual({
      add: ["rack12", "gpu"],
      remove: ["spare"],
    });
    expect(() => parseTagChanges(["rack12"])).toThrow(/\+tag to add/);
    expect(() => parseTagChanges([])).toThrow(/give tags/);
  });
});

describe("why a machine cannot be deleted", () => {
  it("a live lease, an install between steps, a maintenance run; not a queue nothing runs, nor a lease that ran out", () => {
    const later = "2026-01-01T00:10:00.000Z";
    expect(busyReason("inventoried", [command("check-disks", "leased", later)], undefined, AT)).toMatch(
      /live check-disks lease until/,
    );
    expect(busyReason("imaging", [command("boot-installed", "leased", later)], undefined, AT)).toMatch(
      /rebooting into its install/,
    );
    expect(busyReason("configuring", [command("write-image", "queued")], undefined, AT)).toBe(
      "an install is in flight: it is configuring and write-image is queued",
    );
    expect(
      busyReason(
        "inventoried",
        [command("check-disks", "queued"), command("boot-installed", "queued")],
        undefined,
        AT,
      ),
    ).toBeUndefined();
    // Only the fields the reason reads: a run of the maintenance swap, unfinished.
    const run = { id: "run-1", state: "running" } as MaintenanceRun;
    expect(busyReason("maintenance", [], run, AT)).toBe("its maintenance run run-1 is running");
    // Its expectation cleared mid-install: the queue is empty, nothing is in flight.
    expect(busyReason("imaging", [], undefined, AT)).toBeUndefined();
    // A lease that ran out is the sweep's; the machine is not held by it.
    expect(
      busyReason(
        "inventoried",
        [command("check-disks", "leased", "2025-12-31T00:00:00.000Z")],
        undefined,
        AT,
      ),
    ).toBeUndefined();
  });
});
