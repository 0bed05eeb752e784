// The traveler's state machine (issue 22), pure: a unit's record through the station's stages. Each
// function takes a traveler and returns the next one; the flow (flow.ts) stores it in the same
// transaction as the machine's own change, so a restart mid-shift loses and duplicates nothing.
import type { FactoryStage, Inventory, StageResult, Traveler, TravelerStage } from "../../protocol/index.js";

const MiB = 2 ** 20;

export function newTraveler(serial: string, machineId: string, station: string, at: string): Traveler {
  return {
    serial,
    machineId,
    station,
    state: "in-progress",
    stage: "inventory",
    stages: [],
    inventory: null,
    image: null,
    burnInCommand: null,
    createdAt: at,
    updatedAt: at,
  };
}

/** What the traveler keeps of the unit's inventory. */
export function travelerInventory(serial: string, inventory: Inventory): NonNullable<Traveler["inventory"]> {
  return {
    manufacturer: inventory.system.manufacturer,
    product: inventory.system.product,
    serial,
    uuid: inventory.system.uuid,
    memoryMiB: Math.round(inventory.memoryBytes / MiB),
    cpus: inventory.cpu.logicalCount,
    disks: inventory.disks.map((disk) => ({ name: disk.name, sizeBytes: disk.sizeBytes })),
  };
}

/** The attempt of `stage` that is still running, if any. */
export function runningStage(traveler: Traveler, stage?: FactoryStage): TravelerStage | undefined {
  return traveler.stages.findLast(
    (s) => s.result === "running" && (stage === undefined || s.stage === stage),
  );
}

/** A new attempt at `stage`: the traveler is at it, in progress. */
export function startStage(traveler: Traveler, stage: FactoryStage, at: string): Traveler {
  const attempt = traveler.stages.filter((s) => s.stage === stage).length + 1;
  const record: TravelerStage = {
    stage,
    attempt,
    startedAt: at,
    endedAt: null,
    result: "running",
    figures: {},
    reason: null,
  };
  return { ...traveler, state: "in-progress", stage, stages: [...traveler.stages, record], updatedAt: at };
}

/**
 * Ends the running attempt of `stage` (a no-op when none runs: a retried result changes nothing).
 * A failure fails the unit at that stage.
 */
export function endStage(
  traveler: Traveler,
  stage: FactoryStage,
  outcome: {
    result: Exclude<StageResult, "running">;
    figures?: Record<string, unknown>;
    reason?: string | null;
  },
  at: string,
): Traveler {
  const running = runningStage(traveler, stage);
  if (!running) return traveler;
  const ended: TravelerStage = {
    ...running,
    endedAt: at,
    result: outcome.result,
    figures: { ...running.figures, ...outcome.figures },
    reason: outcome.reason ?? null,
  };
  return {
    ...traveler,
    stages: traveler.stages.map((s) => (s === running ? ended : s)),
    state: outcome.result === "failed" ? "failed" : traveler.state,
    updatedAt: at,
  };
}

export function passTraveler(traveler: Traveler, at: string): Traveler {
  return { ...traveler, state: "passed", updatedAt: at };
}

/**
 * The unit booted our loader again (its inventory arrived): where its run picks up. A stage that was
 * still running stopped with the boot (the unit was pulled or lost power): its attempt is recorded as
 * interrupted, saying where it stopped, and that stage starts again. A failed unit repeats the stage that
 * failed; a new one starts at inventory; a passed one has nothing left (undefined).
 */
export function resumeAfterBoot(
  traveler: Traveler,
  at: string,
  whereItStopped: string | null,
): { traveler: Traveler; resumeAt: FactoryStage | undefined } {
  const running = runningStage(traveler);
  if (running) {
    // Verification waits for the installed OS: the loader coming back instead means the install did not boot.
    const resumeAt = running.stage === "verification" ? "install" : running.stage;
    const reason = `the unit booted again during ${running.stage}${whereItStopped ? ` (stopped during ${whereItStopped})` : ""}`;
    const stopped = endStage(traveler, running.stage, { result: "interrupted", reason }, at);
    return { traveler: { ...stopped, burnInCommand: null }, resumeAt };
  }
  if (traveler.state === "passed") return { traveler, resumeAt: undefined };
  if (traveler.state === "failed") return { traveler, resumeAt: traveler.stage };
  return { traveler, resumeAt: traveler.stages.length === 0 ? "inventory" : traveler.stage };
}

/** What the console and the report say about a failed unit: its stage and reason. */
export function failureNotice(traveler: Traveler): string | undefined {
  if (traveler.state !== "failed") return undefined;
  const failed = traveler.stages.findLast((s) => s.result === "failed");
  return `factory: unit ${traveler.serial} FAILED at ${traveler.stage}: ${failed?.reason ?? "no reason recorded"}`;
}
