// The maintenance swap's state in the embedded store (seeds 001, 004): a run records the machine's
// original target, queues the maintenance image's run, follows it (leased, progress, report) and swaps
// the machine back; a failure keeps the original target so one command can restore it.
import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import type { Statements } from "./statements.js";
import { z } from "zod";
import {
  type CallHome,
  type MaintenanceReport,
  type OriginalTarget,
  type ImageRecord,
  type Machine,
  type MaintenanceProgress,
  type MaintenanceRun,
} from "../../protocol/index.js";
import { overdue } from "../maintenance/deadlines.js";
import type { MachineWrites } from "./machine-writes.js";
import { json, RunRow, toRun } from "./maintenance-rows.js";

/** States of a run that is not over: at most one per machine (a unique index says so too). */
const ACTIVE = "('rebooting', 'running', 'returning', 'restoring')";

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

export class SqliteMaintenance {
  constructor(
    private readonly statements: Statements,
    private readonly machines: MachineWrites,
  ) {}

  private sql(text: string): Database.Statement {
    return this.statements.get(text);
  }

  private tx<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.statements.db.transaction(fn)());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private one(where: string, ...args: unknown[]): MaintenanceRun | undefined {
    const raw: unknown = this.sql(`SELECT * FROM maintenance_runs WHERE ${where}`).get(...args);
    return raw === undefined ? undefined : toRun(RunRow.parse(raw));
  }

  private update(runId: string, fields: Record<string, string | null>): void {
    const names = Object.keys(fields);
    this.sql(`UPDATE maintenance_runs SET ${names.map((n) => `${n} = ?`).join(", ")} WHERE id = ?`).run(
      ...names.map((n) => fields[n] ?? null),
      runId,
    );
  }

  private mustFind(machineId: string): Machine {
    const machine = this.machines.find(machineId);
    if (!machine) throw new Error(`machine ${machineId} vanished inside its own transaction`);
    return machine;
  }

  /** The machine's unfinished run, if any. */
  activeRun(machineId: string): MaintenanceRun | undefined {
    return this.one(`machine_id = ? AND state IN ${ACTIVE}`, machineId);
  }

  private runOfCommand(machineId: string, commandId: string): MaintenanceRun | undefined {
    return this.one("machine_id = ? AND command_id = ?", machineId, commandId);
  }

  /**
   * What the machine runs now and must come back to: the image and plan its installed OS named when it
   * last called home (or its disk's marker, when the loader found it already installed).
   */
  private originalTarget(machine: Machine): OriginalTarget | undefined {
    const row = z
      .object({ installed_json: z.string().nullable() })
      .parse(this.sql("SELECT installed_json FROM machines WHERE id = ?").get(machine.id));
    const installed =
      row.installed_json === null
        ? undefined
        : z
            .object({ image: z.string(), planHash: z.string(), os: z.string().nullable() })
            .parse(json(row.installed_json));
    const marker = machine.inventory?.installedMarker;
    const image = installed?.image ?? marker?.image;
    const planHash = installed?.planHash ?? marker?.planHash;
    if (image === undefined || planHash === undefined) return undefined;
    return { image, planHash, rule: machine.plan?.rule ?? "(none)", os: installed?.os ?? null };
  }

  /** Starts a swap inside the caller's transaction (operator, schedule or health rule). */
  startNow(machineId: string, request: StartRequest, when: Date): RunOutcome {
    const at = when.toISOString();
    const machine = this.machines.find(machineId);
    if (!machine) return { kind: "refused", reason: `no machine ${machineId}` };
    const active = this.activeRun(machineId);
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
    const original = this.originalTarget(machine);
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
    const commandId = this.machines.enqueue(machineId, "run-maintenance", "maintenance", at, deadlineAt);
    this.sql(
      `INSERT INTO maintenance_runs (id, machine_id, image_sha256, image_name, image_purpose, mode, trigger_json,
         state, original_json, steps_json, extra_steps_json, power_json, command_id, started_at, deadline_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'rebooting', ?, ?, '[]', '[]', ?, ?, ?)`,
    ).run(
      id,
      machineId,
      image.sha256,
      image.name,
      image.purpose,
      request.mode,
      JSON.stringify(request.trigger),
      JSON.stringify(original),
      JSON.stringify(request.steps),
      commandId,
      at,
      deadlineAt,
    );
    this.machines.log(machineId, at, "maintenance-started", {
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
    this.machines.setCategory(
      machine,
      "maintenance",
      at,
      `swapped into ${image.name} (${request.trigger.kind})`,
    );
    // Expected = where it is: the reconciler leaves it alone until the report sets `installed` again.
    this.machines.setExpected(this.mustFind(machineId), "maintenance", at);
    const run = this.activeRun(machineId);
    if (!run) throw new Error(`maintenance run ${id} vanished inside its own transaction`);
    return { kind: "ok", run };
  }

  start(machineId: string, request: StartRequest, when: Date): Promise<RunOutcome> {
    return this.tx(() => this.startNow(machineId, request, when));
  }

  runs(machineId?: string): Promise<MaintenanceRun[]> {
    const rows: unknown[] =
      machineId === undefined
        ? this.sql("SELECT * FROM maintenance_runs ORDER BY started_at, id").all()
        : this.sql("SELECT * FROM maintenance_runs WHERE machine_id = ? ORDER BY started_at, id").all(
            machineId,
          );
    return Promise.resolve(rows.map((raw) => toRun(RunRow.parse(raw))));
  }

  run(runId: string): Promise<MaintenanceRun | undefined> {
    return Promise.resolve(this.one("id = ?", runId));
  }

  /** The run a leased run-maintenance command belongs to. */
  runForCommand(machineId: string, commandId: string): Promise<MaintenanceRun | undefined> {
    return Promise.resolve(this.runOfCommand(machineId, commandId));
  }

  /** A reboot the server made (power driver) or asked for (in band), in the run and the step log. */
  recordPower(runId: string, action: MaintenanceRun["power"][number]): Promise<void> {
    return this.tx(() => {
      const run = this.one("id = ?", runId);
      if (!run) return;
      this.update(runId, { power_json: JSON.stringify([...run.power, action]) });
      this.machines.log(run.machineId, action.at, "maintenance-power", { run: runId, ...action });
    });
  }

  /**
   * The installed OS reported while its swap waits for a reboot and no power driver has done it: it is
   * told to reboot (in band), and the run says so.
   */
  inBandReboot(machineId: string, when: Date): Promise<boolean> {
    return this.tx(() => {
      const run = this.activeRun(machineId);
      if (run?.state !== "rebooting" || run.power.some((p) => p.ok && p.via !== "in-band")) return false;
      const action = { via: "in-band", at: when.toISOString(), ok: true, error: null };
      this.update(run.id, { power_json: JSON.stringify([...run.power, action]) });
      this.machines.log(machineId, action.at, "maintenance-power", { run: run.id, ...action });
      return true;
    });
  }

  // --- Hooks: called by the store inside its own transactions -------------------------------------

  /** The maintenance image's loader leased the run: it booted. */
  onLeased(machineId: string, commandId: string, at: string): void {
    const run = this.runOfCommand(machineId, commandId);
    if (run?.state !== "rebooting") return;
    this.update(run.id, { state: "running", running_at: at });
    this.machines.log(machineId, at, "maintenance-running", { run: run.id, image: run.image.name });
  }

  /** The run's completion signal: keep the report, then swap back (or fail on a failed step). */
  onReport(machineId: string, commandId: string, report: MaintenanceReport, at: string): void {
    const run = this.runOfCommand(machineId, commandId);
    if (!run) return;
    this.update(run.id, { report_json: JSON.stringify(report), reported_at: at });
    this.machines.log(machineId, at, "maintenance-report", {
      run: run.id,
      ok: report.ok,
      steps: report.steps.map((s) => ({ name: s.name, ok: s.ok, ms: s.ms, extra: s.extra })),
    });
    const failed = report.steps.filter((s) => !s.ok);
    if (failed.length > 0) {
      const reasons = failed.map((s) => `${s.name}: ${s.error ?? "failed"}`).join("; ");
      this.machines.fail(this.mustFind(machineId), at, `maintenance run ${run.id} failed: ${reasons}`);
      return;
    }
    this.update(run.id, { state: "returning" });
    this.machines.log(machineId, at, "maintenance-returning", { run: run.id, original: run.original });
    // The difference maintenance → installed is closed by boot-installed: reboot into the original disk.
    this.machines.setExpected(this.mustFind(machineId), "installed", at);
  }

  /** The machine failed (timeout, failed step, lost lease): its run fails with the reason, restorable. */
  onMachineFailed(machineId: string, at: string, why: string): void {
    const run = this.activeRun(machineId);
    if (!run) return;
    this.update(run.id, { state: "failed", error: why, ended_at: at });
    // The reconciler leaves run-maintenance alone: a failed run's command is cancelled here.
    if (this.machines.pending(machineId).some((c) => c.id === run.commandId))
      this.machines.cancel(machineId, run.commandId, at);
    this.machines.log(machineId, at, "maintenance-failed", {
      run: run.id,
      reason: why,
      original: run.original,
      restore: `bootwright maintenance restore ${machineId}`,
    });
  }

  /** The original system called home: a swap back (or a restore) is complete. */
  onCallHome(machineId: string, call: CallHome, at: string): void {
    const run = this.activeRun(machineId);
    if (run?.state !== "returning" && run?.state !== "restoring") return;
    const sameImage = call.image === run.original.image;
    this.update(run.id, {
      state: "completed",
      ended_at: at,
      ...(sameImage ? {} : { error: `came back with image ${call.image}, not ${run.original.image}` }),
    });
    this.machines.log(machineId, at, "maintenance-completed", {
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
  progress(machineId: string, progress: MaintenanceProgress, when: Date): Promise<ProgressOutcome> {
    const at = when.toISOString();
    return this.tx((): ProgressOutcome => {
      const run = this.activeRun(machineId);
      const leased = this.machines
        .pending(machineId)
        .find((c) => c.id === run?.commandId && c.state === "leased" && c.leaseId === progress.leaseId);
      if (run?.id !== progress.runId || run.state !== "running" || !leased)
        return {
          kind: "refused",
          reason: `run ${progress.runId} of machine ${machineId} is not running under lease ${progress.leaseId}`,
        };
      const extraSteps = run.extraSteps.filter((e) => !e.delivered).map((e) => e.step);
      this.update(run.id, {
        last_progress_at: at,
        extra_steps_json: JSON.stringify(run.extraSteps.map((e) => ({ ...e, delivered: true }))),
      });
      this.machines.log(machineId, at, "maintenance-progress", {
        run: run.id,
        step: progress.step,
        message: progress.message,
        percent: progress.percent,
        done: progress.done.length,
        ...(extraSteps.length > 0 ? { delivered: extraSteps.map((s) => s.name) } : {}),
      });
      return { kind: "accepted", run, extraSteps };
    });
  }

  /** An extra step for an active run (seed 001: the server "may supply added data or subroutines"). */
  addStep(machineId: string, step: MaintenanceRun["steps"][number], when: Date): Promise<RunOutcome> {
    const at = when.toISOString();
    return this.tx((): RunOutcome => {
      const run = this.activeRun(machineId);
      if (!run) return { kind: "refused", reason: `machine ${machineId} has no maintenance run in progress` };
      if (run.mode !== "active")
        return { kind: "refused", reason: `run ${run.id} is passive: it takes no extra steps` };
      if (run.state !== "rebooting" && run.state !== "running")
        return { kind: "refused", reason: `run ${run.id} is ${run.state}: its steps are over` };
      this.update(run.id, {
        extra_steps_json: JSON.stringify([...run.extraSteps, { step, delivered: false }]),
      });
      this.machines.log(machineId, at, "maintenance-step-added", {
        run: run.id,
        step: step.name,
        params: step.params,
      });
      return { kind: "ok", run: this.activeRun(machineId) ?? run };
    });
  }

  /**
   * One command to bring back the original system after a failed run (or to stop one in progress): the
   * machine is put back on its swap-back path (maintenance → installed by boot-installed).
   */
  restore(machineId: string, when: Date): Promise<RunOutcome> {
    const at = when.toISOString();
    return this.tx((): RunOutcome => {
      const machine = this.machines.find(machineId);
      if (!machine) return { kind: "refused", reason: `no machine ${machineId}` };
      const active = this.activeRun(machineId);
      if (active?.state === "returning" || active?.state === "restoring")
        return { kind: "refused", reason: `run ${active.id} is already ${active.state}` };
      if (active) this.machines.fail(machine, at, `maintenance run ${active.id} stopped by the operator`);
      const run = active ?? this.one("machine_id = ? ORDER BY started_at DESC, id DESC LIMIT 1", machineId);
      if (run?.state !== "failed" && !active)
        return {
          kind: "refused",
          reason: `machine ${machineId} has no failed maintenance run to restore from`,
        };
      if (!run) return { kind: "refused", reason: `machine ${machineId} has no maintenance run` };
      const current = this.mustFind(machineId);
      if (current.category !== "failed" && current.category !== "maintenance")
        return {
          kind: "refused",
          reason: `machine ${machineId} is ${current.category}: nothing to restore (run ${run.id} ended ${run.state})`,
        };
      this.update(run.id, { state: "restoring", ended_at: null });
      this.machines.log(machineId, at, "maintenance-restoring", { run: run.id, original: run.original });
      this.machines.setCategory(current, "maintenance", at, `restoring its original system (run ${run.id})`);
      this.machines.setExpected(this.mustFind(machineId), "installed", at);
      return { kind: "ok", run: this.activeRun(machineId) ?? run };
    });
  }

  /**
   * The server reboots the machine itself (power driver): it leases the queued boot-installed on the
   * machine's behalf, so iPXE sends it to its disk and the call-home deadline runs.
   */
  leaseBootInstalled(machineId: string, when: Date, leaseMs: number): Promise<boolean> {
    return this.tx(() => {
      const queued = this.machines
        .pending(machineId)
        .find((c) => c.kind === "boot-installed" && c.state === "queued");
      if (!queued) return false;
      this.machines.lease(machineId, queued.id, when, leaseMs);
      return true;
    });
  }

  /**
   * The monitor's check: a run whose machine never booted the maintenance image, whose image never
   * reported by its deadline, or (active mode) whose report is overdue fails with the reason.
   */
  sweep(when: Date, stallMs: number): Promise<SweptRun[]> {
    const at = when.toISOString();
    return this.tx(() => {
      const rows: unknown[] = this.sql(
        "SELECT * FROM maintenance_runs WHERE state IN ('rebooting', 'running')",
      ).all();
      const failed: SweptRun[] = [];
      for (const run of rows.map((raw) => toRun(RunRow.parse(raw)))) {
        const reason = overdue(run, when, stallMs);
        if (!reason) continue;
        this.machines.fail(this.mustFind(run.machineId), at, reason);
        failed.push({ run, reason });
      }
      return failed;
    });
  }

  /** Failed runs not yet alerted in the server log: each is returned once. */
  takeUnalerted(when: Date): Promise<MaintenanceRun[]> {
    return this.tx(() => {
      const rows: unknown[] = this.sql(
        "SELECT * FROM maintenance_runs WHERE state = 'failed' AND alerted_at IS NULL",
      ).all();
      const runs = rows.map((raw) => toRun(RunRow.parse(raw)));
      for (const run of runs) this.update(run.id, { alerted_at: when.toISOString() });
      return runs;
    });
  }
}
