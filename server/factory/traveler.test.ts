// The traveler's state machine: stage attempts, failures, and what a new boot of the unit resumes
// (the station restarted is not a boot: the stored traveler is simply read again).
import { expect, it } from "vitest";
import {
  endStage,
  failureNotice,
  newTraveler,
  passTraveler,
  resumeAfterBoot,
  startStage,
} from "./traveler.js";

const T0 = "2026-12-03T10:00:00.000Z";
const T1 = "2026-12-03T10:05:00.000Z";
const T2 = "2026-12-03T10:09:00.000Z";

function throughBurnIn() {
  let t = newTraveler("SN-1", "m1", "line-1", T0);
  t = endStage(startStage(t, "inventory", T0), "inventory", { result: "passed" }, T0);
  t = endStage(startStage(t, "burn-in", T0), "burn-in", { result: "passed", figures: { cpu: 1 } }, T1);
  return startStage(t, "install", T1);
}

it("a new unit starts at inventory; stages record start, end, result and figures", () => {
  const fresh = newTraveler("SN-1", "m1", "line-1", T0);
  expect(resumeAfterBoot(fresh, T0, null).resumeAt).toBe("inventory");
  const t = throughBurnIn();
  expect(t.stages.map((s) => [s.stage, s.attempt, s.result, s.endedAt])).toEqual([
    ["inventory", 1, "passed", T0],
    ["burn-in", 1, "passed", T1],
    ["install", 1, "running", null],
  ]);
  expect(t.stages[1]?.figures).toEqual({ cpu: 1 });
  // Ending a stage twice (a retried result) changes nothing.
  const once = endStage(t, "burn-in", { result: "failed", reason: "late" }, T2);
  expect(once).toBe(t);
});

it("pulled mid-install: the install attempt is interrupted with where it stopped, and the install starts again", () => {
  const { traveler, resumeAt } = resumeAfterBoot(throughBurnIn(), T2, "write-image, leased until x");
  expect(resumeAt).toBe("install");
  expect(traveler.stages.at(-1)).toMatchObject({
    stage: "install",
    result: "interrupted",
    endedAt: T2,
    reason: "the unit booted again during install (stopped during write-image, leased until x)",
  });
  expect(traveler.state).toBe("in-progress");
  const again = startStage(traveler, "install", T2);
  expect(again.stages.at(-1)).toMatchObject({ stage: "install", attempt: 2, result: "running" });
});

it("a unit that rebooted to the loader instead of its installed OS repeats the install", () => {
  const verifying = startStage(
    endStage(throughBurnIn(), "install", { result: "passed" }, T1),
    "verification",
    T1,
  );
  expect(resumeAfterBoot(verifying, T2, null).resumeAt).toBe("install");
});

it("a failed unit repeats the stage that failed, and says where and why; a passed one has nothing left", () => {
  let t = newTraveler("SN-2", "m2", "line-1", T0);
  t = endStage(startStage(t, "inventory", T0), "inventory", { result: "passed" }, T0);
  t = endStage(
    startStage(t, "burn-in", T0),
    "burn-in",
    { result: "failed", reason: "memory-test.mismatches 3 above max 0" },
    T1,
  );
  expect(t.state).toBe("failed");
  expect(failureNotice(t)).toBe("factory: unit SN-2 FAILED at burn-in: memory-test.mismatches 3 above max 0");
  expect(resumeAfterBoot(t, T2, null)).toEqual({ traveler: t, resumeAt: "burn-in" });
  const passed = passTraveler(throughBurnIn(), T2);
  expect(
    resumeAfterBoot(endStage(passed, "install", { result: "passed" }, T2), T2, null).resumeAt,
  ).toBeUndefined();
  expect(failureNotice(passed)).toBeUndefined();
});
