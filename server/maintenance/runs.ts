// The maintenance swap's lifecycle (seeds 001, 004), each step inside the caller's transaction: a run
// records the machine's original target, queues the maintenance image's run, follows it (leased,
// progress, report) and swaps the machine back; a failure keeps the original target so one command can
// restore it. The I/O around it (power drivers, the monitor's timer) is service.ts.
import { randomUUID } from "node:crypto";
import type {
  CallHome,
  ImageRecord,
  Machine,
  MaintenanceProgress,
  MaintenanceReport,
  MaintenanceRun,
  OriginalTarget,
} from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { failMachine } from "../queue/failure.js";
import { setExpected } from "../queue/reconcile.js";
import { enqueue, leaseCommand, mustGet, setCategory } from "../queue/steps.js";
import { overdue } from "./deadlines.js";

export interface StartRequest {
  image: ImageRecord;
  mode: MaintenanceRun["mode"];
  timeoutMs: number;
  steps: MaintenanceRun["steps"];
  trigger: MaintenanceRun["trigger"];
}

export type RunOutcome = { kind: "ok"; run: MaintenanceRun } | { kind: "refused"; reason: string };

export type ProgressOutcome =
  | { kind: "accepted"; run: MaintenanceRun; extraSteps: MaintenanceRun["steps"] }
  | { kind: "refused"; reason: string };

/** A run the sweep failed, and why. */
export interface SweptRun {
  run: MaintenanceRun;
  reason: string;
}

async function mustBeActive(rows: Rows, machineId: string, runId: string): Promise<MaintenanceRun> {
  const run = await rows.runs.active(machineId);
  if (!run) throw new Error(`maintenance run ${runId} vanished inside its own transaction`);
  return run;
}

/**
 * What the machine runs now and must come back to: the image and plan its installed OS named when it
 * last called home (or its disk's marker, when the loader found it already installed).
 */
async function originalTarget(rows: Rows, machine: Machine): Promise<OriginalTarget | undefined> {
  const installed = await rows.machines.installed(machine.id);
  const marker = machine.inventory?.installedMarker;
  const image = installed?.image ?? marker?.image;
  const planHash = installed?.planHash ?? marker?.planHash;
  if (image === undefined || planHash === undefined) return undefined;
  return { image, planHash, rule: machine.plan?.rule ?? "(none)", os: installed?.os ?? null };
}

/** Starts a swap (operator, schedule or health rule), or says why not. */
export async function startRun(
  rows: Rows,
  machineId: string,
  request: StartRequest,
  when: Date,
): Promise<RunOutcome> {
  const at = when.toISOString();
  const machine = await rows.machines.get(machineId);
  if (!machine) return { kind: "refused", reason: `no machine ${machineId}` };
  const active = await rows.runs.active(machineId);
  if (active)
    return {
      kind: "refused",
      reason: `machine ${machineId} is already in maintenance run ${active.id} (${active.state})`,
    };
  if (machine.category !== "installed")
    return {
      kind: "refused",
      reason: `machine ${machineId} is ${machine.category}: only an installed machine is swapped into maintenance (it must have a system to come back to)`,
    };
  const original = await originalTarget(rows, machine);
  if (!original)
    return {
      kind: "refused",
      reason: `machine ${machineId} has no recorded installed image: its OS has not called home since it was installed`,
    };
  const { image } = request;
  if (image.purpose === "os" || image.format !== "tar.zst")
    return {
      kind: "refused",
      reason: `image ${image.name} is a ${image.format} ${image.purpose} image, not a maintenance image (tar.zst with purpose diagnostic, repair, …)`,
    };
  const id = randomUUID();
  const deadlineAt = new Date(when.getTime() + request.timeoutMs).toISOString();
  const commandId = await enqueue(
    rows,
    machineId,
    { kind: "run-maintenance", onSuccess: "maintenance" },
    at,
    deadlineAt,
  );
  await rows.runs.insert({
    id,
    machineId,
    image: { name: image.name, sha256: image.sha256, purpose: image.purpose },
    mode: request.mode,
    trigger: request.trigger,
    state: "rebooting",
    original,
    commandId,
    steps: request.steps,
    extraSteps: [],
    report: null,
    power: [],
    startedAt: at,
    deadlineAt,
    runningAt: null,
    lastProgressAt: null,
    reportedAt: null,
    endedAt: null,
    error: null,
  });
  await rows.log.append(machineId, at, "maintenance-started", {
    run: id,
    image: image.name,
    sha256: image.sha256,
    purpose: image.purpose,
    mode: request.mode,
    trigger: request.trigger,
    original,
    deadlineAt,
    steps: request.steps.map((s) => s.name),
  });
  await setCategory(rows, machine, "maintenance", at, `swapped into ${image.name} (${request.trigger.kind})`);
  // Expected = where it is: the reconciler leaves it alone until the report sets `installed` again.
  await setExpected(rows, await mustGet(rows, machineId), "maintenance", at);
  return { kind: "ok", run: await mustBeActive(rows, machineId, id) };
}

/** A reboot the server made (power driver) or asked for (in band), in the run and the step log. */
export async function recordPower(
  rows: Rows,
  runId: string,
  action: MaintenanceRun["power"][number],
): Promise<void> {
  const run = await rows.runs.get(runId);
  if (!run) return;
  await rows.runs.update(runId, { power: [...run.power, action] });
  await rows.log.append(run.machineId, action.at, "maintenance-power", { run: runId, ...action });
}

/**
 * The installed OS reported while its swap waits for a reboot and no power driver has done it: it is
 * told to reboot (in band), and the run says so.
 */
export async function inBandReboot(rows: Rows, machineId: string, when: Date): Promise<boolean> {
  const run = await rows.runs.active(machineId);
  if (run?.state !== "rebooting" || run.power.some((p) => p.ok && p.via !== "in-band")) return false;
  await recordPower(rows, run.id, { via: "in-band", at: when.toISOString(), ok: true, error: null });
  return true;
}

/** The maintenance image's loader leased the run: it booted. */
export async function runLeased(rows: Rows, machineId: string, commandId: string, at: string): Promise<void> {
  const run = await rows.runs.ofCommand(machineId, commandId);
  if (run?.state !== "rebooting") return;
  await rows.runs.update(run.id, { state: "running", runningAt: at });
  await rows.log.append(machineId, at, "maintenance-running", { run: run.id, image: run.image.name });
}

/** The run's completion signal: keep the report, then swap back (or fail on a failed step). */
export async function runReported(
  rows: Rows,
  machineId: string,
  commandId: string,
  report: MaintenanceReport,
  at: string,
): Promise<void> {
  const run = await rows.runs.ofCommand(machineId, commandId);
  if (!run) return;
  await rows.runs.update(run.id, { report, reportedAt: at });
  await rows.log.append(machineId, at, "maintenance-report", {
    run: run.id,
    ok: report.ok,
    steps: report.steps.map((s) => ({ name: s.name, ok: s.ok, ms: s.ms, extra: s.extra })),
  });
  const failed = report.steps.filter((s) => !s.ok);
  if (failed.length > 0) {
    const reasons = failed.map((s) => `${s.name}: ${s.error ?? "failed"}`).join("; ");
    await failMachine(
      rows,
      await mustGet(rows, machineId),
      at,
      `maintenance run ${run.id} failed: ${reasons}`,
    );
    return;
  }
  await rows.runs.update(run.id, { state: "returning" });
  await rows.log.append(machineId, at, "maintenance-returning", { run: run.id, original: run.original });
  // The difference maintenance → installed is closed by boot-installed: reboot into the original disk.
  await setExpected(rows, await mustGet(rows, machineId), "installed", at);
}

/** The original system called home: a swap back (or a restore) is complete. */
export async function runCalledHome(
  rows: Rows,
  machineId: string,
  call: CallHome,
  at: string,
): Promise<void> {
  const run = await rows.runs.active(machineId);
  if (run?.state !== "returning" && run?.state !== "restoring") return;
  const sameImage = call.image === run.original.image;
  await rows.runs.update(run.id, {
    state: "completed",
    endedAt: at,
    ...(sameImage ? {} : { error: `came back with image ${call.image}, not ${run.original.image}` }),
  });
  await rows.log.append(machineId, at, "maintenance-completed", {
    run: run.id,
    restored: run.state === "restoring",
    sameImage,
    image: call.image,
    original: run.original.image,
    os: call.os,
    cycleMs: Date.parse(at) - Date.parse(run.startedAt),
  });
}

/** An active run answers the server's poll: note it, hand it the steps added since. */
export async function runProgress(
  rows: Rows,
  machineId: string,
  progress: MaintenanceProgress,
  when: Date,
): Promise<ProgressOutcome> {
  const at = when.toISOString();
  const run = await rows.runs.active(machineId);
  const leased = (await rows.commands.pending(machineId)).find(
    (c) => c.id === run?.commandId && c.state === "leased" && c.leaseId === progress.leaseId,
  );
  if (run?.id !== progress.runId || run.state !== "running" || !leased)
    return {
      kind: "refused",
      reason: `run ${progress.runId} of machine ${machineId} is not running under lease ${progress.leaseId}`,
    };
  const extraSteps = run.extraSteps.filter((e) => !e.delivered).map((e) => e.step);
  await rows.runs.update(run.id, {
    lastProgressAt: at,
    extraSteps: run.extraSteps.map((e) => ({ ...e, delivered: true })),
  });
  await rows.log.append(machineId, at, "maintenance-progress", {
    run: run.id,
    step: progress.step,
    message: progress.message,
    percent: progress.percent,
    done: progress.done.length,
    ...(extraSteps.length > 0 ? { delivered: extraSteps.map((s) => s.name) } : {}),
  });
  return { kind: "accepted", run, extraSteps };
}

/** An extra step for an active run (seed 001: the server "may supply added data or subroutines"). */
export async function addRunStep(
  rows: Rows,
  machineId: string,
  step: MaintenanceRun["steps"][number],
  when: Date,
): Promise<RunOutcome> {
  const run = await rows.runs.active(machineId);
  if (!run) return { kind: "refused", reason: `machine ${machineId} has no maintenance run in progress` };
  if (run.mode !== "active")
    return { kind: "refused", reason: `run ${run.id} is passive: it takes no extra steps` };
  if (run.state !== "rebooting" && run.state !== "running")
    return { kind: "refused", reason: `run ${run.id} is ${run.state}: its steps are over` };
  await rows.runs.update(run.id, { extraSteps: [...run.extraSteps, { step, delivered: false }] });
  await rows.log.append(machineId, when.toISOString(), "maintenance-step-added", {
    run: run.id,
    step: step.name,
    params: step.params,
  });
  return { kind: "ok", run: await mustBeActive(rows, machineId, run.id) };
}

/**
 * One command to bring back the original system after a failed run (or to stop one in progress): the
 * machine is put back on its swap-back path (maintenance → installed by boot-installed).
 */
export async function restoreRun(rows: Rows, machineId: string, when: Date): Promise<RunOutcome> {
  const at = when.toISOString();
  const machine = await rows.machines.get(machineId);
  if (!machine) return { kind: "refused", reason: `no machine ${machineId}` };
  const active = await rows.runs.active(machineId);
  if (active?.state === "returning" || active?.state === "restoring")
    return { kind: "refused", reason: `run ${active.id} is already ${active.state}` };
  if (active) await failMachine(rows, machine, at, `maintenance run ${active.id} stopped by the operator`);
  const run = active ?? (await rows.runs.latest(machineId));
  if (run?.state !== "failed" && !active)
    return { kind: "refused", reason: `machine ${machineId} has no failed maintenance run to restore from` };
  if (!run) return { kind: "refused", reason: `machine ${machineId} has no maintenance run` };
  const current = await mustGet(rows, machineId);
  if (current.category !== "failed" && current.category !== "maintenance")
    return {
      kind: "refused",
      reason: `machine ${machineId} is ${current.category}: nothing to restore (run ${run.id} ended ${run.state})`,
    };
  await rows.runs.update(run.id, { state: "restoring", endedAt: null });
  await rows.log.append(machineId, at, "maintenance-restoring", { run: run.id, original: run.original });
  await setCategory(rows, current, "maintenance", at, `restoring its original system (run ${run.id})`);
  await setExpected(rows, await mustGet(rows, machineId), "installed", at);
  return { kind: "ok", run: await mustBeActive(rows, machineId, run.id) };
}

/**
 * The server reboots the machine itself (power driver): it leases the queued boot-installed on the
 * machine's behalf, so iPXE sends it to its disk and the call-home deadline runs.
 */
export async function leaseBootInstalled(
  rows: Rows,
  machineId: string,
  when: Date,
  leaseMs: number,
): Promise<boolean> {
  const queued = (await rows.commands.pending(machineId)).find(
    (c) => c.kind === "boot-installed" && c.state === "queued",
  );
  if (!queued) return false;
  await leaseCommand(rows, machineId, queued, when, leaseMs);
  return true;
}

/**
 * The monitor's check: a run whose machine never booted the maintenance image, whose image never
 * reported by its deadline, or (active mode) whose report is overdue fails with the reason.
 */
export async function sweepRuns(rows: Rows, when: Date, stallMs: number): Promise<SweptRun[]> {
  const failed: SweptRun[] = [];
  for (const run of await rows.runs.inStates(["rebooting", "running"])) {
    const reason = overdue(run, when, stallMs);
    if (!reason) continue;
    await failMachine(rows, await mustGet(rows, run.machineId), when.toISOString(), reason);
    failed.push({ run, reason });
  }
  return failed;
}

/** Failed runs not yet alerted in the server log: each is returned once. */
export async function takeUnalerted(rows: Rows, when: Date): Promise<MaintenanceRun[]> {
  const runs = await rows.runs.unalerted();
  for (const run of runs) await rows.runs.update(run.id, { alertedAt: when.toISOString() });
  return runs;
}
