// The factory line inside the store's transactions (issue 22): what a unit's inventory, a command's
// result and its installed OS's call home do to its traveler and its queue. Each hook runs in the
// transaction of the event that caused it, so the traveler and the machine change together or not at
// all (a station restarted mid-shift finds both as they were). With no station set, each does nothing.
import type {
  CallHome,
  CommandResult,
  Inventory,
  MaintenanceReport,
  StationFile,
  Traveler,
} from "../../protocol/index.js";
import type { CommandRecord, Rows } from "../db/rows.js";
import { failMachine } from "../queue/failure.js";
import { reconcileMachine, setExpected } from "../queue/reconcile.js";
import { enqueue, mustGet, setCategory } from "../queue/steps.js";
import { checkInventory, evaluateBurnIn } from "./checks.js";
import {
  endStage,
  newTraveler,
  passTraveler,
  resumeAfterBoot,
  runningStage,
  startStage,
  travelerInventory,
} from "./traveler.js";

/**
 * Where a run stopped, from the machine's queue: the last command its agent had leased and never
 * finished (the new boot's reconciliation may have cancelled it already).
 */
async function whereItStopped(rows: Rows, machineId: string): Promise<string | null> {
  const unfinished = (await rows.commands.all(machineId)).findLast(
    (c) => c.leaseId !== null && (c.state === "leased" || c.state === "cancelled"),
  );
  return unfinished ? `${unfinished.kind}, leased until ${String(unfinished.leaseExpiresAt)}` : null;
}

async function save(
  rows: Rows,
  traveler: Traveler,
  event: string,
  data: Record<string, unknown>,
): Promise<void> {
  await rows.travelers.put(traveler);
  await rows.log.append(traveler.machineId, traveler.updatedAt, event, {
    serial: traveler.serial,
    stage: traveler.stage,
    state: traveler.state,
    ...data,
  });
}

/** Fails the unit at its running stage: the traveler and the machine, with the same reason. */
async function failUnit(
  rows: Rows,
  traveler: Traveler,
  reason: string,
  figures: Record<string, unknown>,
  at: string,
) {
  const failed = endStage(traveler, traveler.stage, { result: "failed", figures, reason }, at);
  await save(rows, { ...failed, burnInCommand: null }, "factory-stage-failed", { reason });
  await failMachine(
    rows,
    await mustGet(rows, traveler.machineId),
    at,
    `factory ${traveler.stage}: ${reason}`,
  );
}

async function startBurnIn(rows: Rows, station: StationFile, traveler: Traveler, at: string): Promise<void> {
  const started = startStage(traveler, "burn-in", at);
  const deadline = new Date(Date.parse(at) + station.burnIn.timeoutMinutes * 60_000).toISOString();
  // The diagnostic image runs from the loader as a maintenance run does, but no swap owns the command:
  // the factory matches its result to the traveler by the command id.
  const command = await enqueue(
    rows,
    traveler.machineId,
    { kind: "run-maintenance", onSuccess: "inventoried" },
    at,
    deadline,
  );
  await save(rows, { ...started, burnInCommand: command }, "factory-stage-started", { command });
}

async function startInstall(rows: Rows, traveler: Traveler, at: string): Promise<void> {
  await save(rows, startStage(traveler, "install", at), "factory-stage-started", {});
  await setExpected(rows, await mustGet(rows, traveler.machineId), "installed", at);
}

/**
 * The unit's loader posted its inventory (after enrollment recorded it): pick up its traveler where the
 * last boot left it, and run the stage that comes next.
 */
export async function factoryInventory(
  rows: Rows,
  machineId: string,
  inventory: Inventory,
  at: string,
): Promise<void> {
  const stored = await rows.station.get();
  if (!stored) return;
  const { station } = stored;
  const serial = inventory.system.serial?.trim();
  if (!serial) {
    await rows.log.append(machineId, at, "factory-no-serial", {});
    await failMachine(rows, await mustGet(rows, machineId), at, "factory: the unit reports no SMBIOS serial");
    return;
  }
  const existing = await rows.travelers.get(serial);
  const traveler = existing ?? newTraveler(serial, machineId, station.name, at);
  const { traveler: resumed, resumeAt } = resumeAfterBoot(
    { ...traveler, machineId, inventory: travelerInventory(serial, inventory) },
    at,
    await whereItStopped(rows, machineId),
  );
  if (resumeAt === undefined) return save(rows, resumed, "factory-unit-booted", { resumeAt: null });
  const machine = await mustGet(rows, machineId);
  // Repeating a stage starts from the inventoried unit (a failed one, or one pulled mid-install).
  if (machine.category !== "inventoried") {
    if (machine.category !== "failed")
      await setCategory(
        rows,
        machine,
        "failed",
        at,
        `factory: the unit booted again during ${traveler.stage}`,
      );
    await setCategory(
      rows,
      await mustGet(rows, machineId),
      "inventoried",
      at,
      `factory: repeats ${resumeAt}`,
    );
    await rows.machines.update(machineId, { expected: null });
    await reconcileMachine(rows, machineId, at);
  }
  switch (resumeAt) {
    case "inventory": {
      const verdict = checkInventory(station, inventory);
      const checking = startStage(resumed, "inventory", at);
      if (!verdict.ok) return failUnit(rows, checking, verdict.failures.join("; "), verdict.figures, at);
      const passed = endStage(checking, "inventory", { result: "passed", figures: verdict.figures }, at);
      return startBurnIn(rows, station, passed, at);
    }
    case "burn-in":
      return startBurnIn(rows, station, resumed, at);
    case "install":
    case "verification":
      return startInstall(rows, resumed, at);
    case "power-off":
      // It passed; only the power-off was left: the operator's to do.
      return save(rows, passTraveler(resumed, at), "factory-unit-booted", { resumeAt });
  }
}

async function burnInReported(
  rows: Rows,
  station: StationFile,
  traveler: Traveler,
  report: MaintenanceReport,
  at: string,
): Promise<void> {
  const verdict = evaluateBurnIn(station, traveler.serial, report);
  if (!verdict.ok) return failUnit(rows, traveler, verdict.failures.join("; "), verdict.figures, at);
  const passed = endStage(traveler, "burn-in", { result: "passed", figures: verdict.figures }, at);
  return startInstall(rows, { ...passed, burnInCommand: null }, at);
}

/** The image-stream steps' figures: what was written and what reading it back gave. */
function imageFigures(result: CommandResult): Traveler["image"] {
  if (result.outcome !== "succeeded" || result.output.kind !== "write-image") return null;
  const data = (step: string) =>
    result.output.kind === "write-image"
      ? result.output.steps.find((s) => s.plugin === "image-stream" && s.step === step)?.data
      : undefined;
  const stream = data("stream");
  const step = data("read-back");
  // Skipped when the unit's plan did not ask for it (an operator's own policy without verify: readback).
  const readBack = step?.skipped === true ? undefined : step;
  const text = (value: unknown): string => (typeof value === "string" ? value : "");
  return {
    name: text(readBack?.image) || text(stream?.image),
    sha256: text(stream?.sha256),
    rawSha256: text(readBack?.expectedSha256),
    readBackSha256: readBack ? text(readBack.sha256) : null,
    readBackMatches: readBack ? readBack.matches === true : null,
  };
}

/** A command of the unit's queue ended (applied once: a retried post never comes here twice). */
export async function factoryCommandResult(
  rows: Rows,
  machineId: string,
  command: CommandRecord,
  result: CommandResult,
  at: string,
): Promise<void> {
  const traveler = await rows.travelers.ofMachine(machineId);
  const stored = traveler && (await rows.station.get());
  if (!traveler || !stored || traveler.state !== "in-progress") return;
  if (command.kind === "run-maintenance" && command.id === traveler.burnInCommand) {
    if (result.outcome === "failed")
      return failUnit(rows, traveler, `the burn-in did not run: ${result.error}`, {}, at);
    if (result.output.kind === "run-maintenance")
      return burnInReported(rows, stored.station, traveler, result.output.report, at);
    return;
  }
  if (!runningStage(traveler, "install")) return;
  if (result.outcome === "failed")
    return failUnit(rows, traveler, `${command.kind} failed: ${result.error}`, {}, at);
  if (command.kind !== "write-image") return;
  const image = imageFigures(result);
  const written = endStage(traveler, "install", { result: "passed", figures: { image } }, at);
  await save(rows, startStage({ ...written, image }, "verification", at), "factory-stage-started", {});
}

/** The installed OS called home: verification passed; the power-off comes next (FactoryService). */
export async function factoryCallHome(
  rows: Rows,
  machineId: string,
  call: CallHome,
  at: string,
): Promise<void> {
  const traveler = await rows.travelers.ofMachine(machineId);
  if (!traveler || !runningStage(traveler, "verification")) return;
  const stored = await rows.station.get();
  const verified = endStage(traveler, "verification", { result: "passed", figures: { ...call } }, at);
  const next = stored?.station.powerOff === false ? verified : startStage(verified, "power-off", at);
  await save(rows, passTraveler(next, at), "factory-unit-passed", {});
}

/** The power-off's outcome (the service powers the unit off after the call home's transaction). */
export async function factoryPoweredOff(
  rows: Rows,
  machineId: string,
  outcome: { ok: boolean; via: string; error: string | null },
  at: string,
): Promise<void> {
  const traveler = await rows.travelers.ofMachine(machineId);
  if (!traveler || !runningStage(traveler, "power-off")) return;
  const ended = endStage(
    traveler,
    "power-off",
    outcome.ok
      ? { result: "passed", figures: { via: outcome.via } }
      : { result: "skipped", figures: { via: outcome.via }, reason: outcome.error },
    at,
  );
  // A unit that passed stays passed when only its power-off could not be done: the report says so.
  await save(rows, { ...ended, state: "passed" }, "factory-powered-off", outcome);
}
