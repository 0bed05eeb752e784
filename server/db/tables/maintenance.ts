// The maintenance swap's rows: runs (one unfinished run per machine: a unique index says so), schedules
// (the next fire time claimed by one firing), health reports and latched rules, boot areas.
import * as z from "zod";
import {
  BootAreaRecord,
  HealthFigures,
  MaintenanceMode,
  ScheduleTarget,
  type MaintenanceRun,
  type MaintenanceSchedule,
  type StoredHealthReport,
} from "../../../protocol/index.js";
import { RunRow, toRun } from "./run-rows.js";
import type { BootAreaRows, HealthRows, NewScheduleRow, RunPatch, RunRows, ScheduleRows } from "../rows.js";
import type { Sql, SqlValue } from "../sql.js";

const ACTIVE = "('rebooting', 'running', 'returning', 'restoring')";

const json = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

const RUN_COLUMNS: { [K in keyof Required<RunPatch>]: [string, (value: RunPatch[K]) => SqlValue] } = {
  state: ["state", (v) => v ?? null],
  extraSteps: ["extra_steps_json", (v) => json(v ?? [])],
  report: ["report_json", (v) => json(v ?? null)],
  power: ["power_json", (v) => json(v ?? [])],
  runningAt: ["running_at", (v) => v ?? null],
  lastProgressAt: ["last_progress_at", (v) => v ?? null],
  reportedAt: ["reported_at", (v) => v ?? null],
  endedAt: ["ended_at", (v) => v ?? null],
  error: ["error", (v) => v ?? null],
  alertedAt: ["alerted_at", (v) => v ?? null],
};

export class RunTable implements RunRows {
  constructor(private readonly sql: Sql) {}

  private async one(where: string, params: SqlValue[]): Promise<MaintenanceRun | undefined> {
    const raw = await this.sql.get(`SELECT * FROM maintenance_runs WHERE ${where}`, params);
    return raw === undefined ? undefined : toRun(RunRow.parse(raw));
  }

  private async many(where: string, params: SqlValue[]): Promise<MaintenanceRun[]> {
    const rows = await this.sql.all(`SELECT * FROM maintenance_runs WHERE ${where}`, params);
    return rows.map((raw) => toRun(RunRow.parse(raw)));
  }

  get(runId: string): Promise<MaintenanceRun | undefined> {
    return this.one("id = ?", [runId]);
  }

  active(machineId: string): Promise<MaintenanceRun | undefined> {
    return this.one(`machine_id = ? AND state IN ${ACTIVE}`, [machineId]);
  }

  ofCommand(machineId: string, commandId: string): Promise<MaintenanceRun | undefined> {
    return this.one("machine_id = ? AND command_id = ?", [machineId, commandId]);
  }

  latest(machineId: string): Promise<MaintenanceRun | undefined> {
    return this.one("machine_id = ? ORDER BY started_at DESC, id DESC LIMIT 1", [machineId]);
  }

  list(machineId?: string): Promise<MaintenanceRun[]> {
    return machineId === undefined
      ? this.many("1 = 1 ORDER BY started_at, id", [])
      : this.many("machine_id = ? ORDER BY started_at, id", [machineId]);
  }

  inStates(states: readonly MaintenanceRun["state"][]): Promise<MaintenanceRun[]> {
    return this.many(`state IN (${states.map(() => "?").join(", ")}) ORDER BY started_at, id`, [...states]);
  }

  unalerted(): Promise<MaintenanceRun[]> {
    return this.many("state = 'failed' AND alerted_at IS NULL ORDER BY started_at, id", []);
  }

  async insert(r: MaintenanceRun): Promise<void> {
    await this.sql.run(
      `INSERT INTO maintenance_runs (id, machine_id, image_sha256, image_name, image_purpose, mode, trigger_json,
         state, original_json, steps_json, extra_steps_json, report_json, power_json, command_id, started_at,
         deadline_at, running_at, last_progress_at, reported_at, ended_at, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.machineId,
        r.image.sha256,
        r.image.name,
        r.image.purpose,
        r.mode,
        JSON.stringify(r.trigger),
        r.state,
        JSON.stringify(r.original),
        JSON.stringify(r.steps),
        JSON.stringify(r.extraSteps),
        json(r.report),
        JSON.stringify(r.power),
        r.commandId,
        r.startedAt,
        r.deadlineAt,
        r.runningAt,
        r.lastProgressAt,
        r.reportedAt,
        r.endedAt,
        r.error,
      ],
    );
  }

  async update(runId: string, patch: RunPatch): Promise<void> {
    const keys = Object.keys(patch) as (keyof RunPatch)[];
    if (keys.length === 0) return;
    const sets = keys.map((key) => `${RUN_COLUMNS[key][0]} = ?`);
    const params = keys.map((key) => (RUN_COLUMNS[key][1] as (value: unknown) => SqlValue)(patch[key]));
    await this.sql.run(`UPDATE maintenance_runs SET ${sets.join(", ")} WHERE id = ?`, [...params, runId]);
  }
}

const ScheduleRow = z.object({
  id: z.string(),
  target_json: z.string(),
  cron: z.string().nullable(),
  at: z.string().nullable(),
  image: z.string(),
  mode: MaintenanceMode,
  timeout_ms: z.coerce.number().nullable(),
  next_fire_at: z.string().nullable(),
  last_fired_at: z.string().nullable(),
  fired: z.coerce.number(),
  created_at: z.string(),
});

function toSchedule(raw: unknown): MaintenanceSchedule {
  const row = ScheduleRow.parse(raw);
  return {
    id: row.id,
    target: ScheduleTarget.parse(JSON.parse(row.target_json)),
    cron: row.cron,
    at: row.at,
    image: row.image,
    mode: row.mode,
    timeoutMs: row.timeout_ms,
    nextFireAt: row.next_fire_at,
    lastFiredAt: row.last_fired_at,
    fired: row.fired,
    createdAt: row.created_at,
  };
}

export class ScheduleTable implements ScheduleRows {
  constructor(private readonly sql: Sql) {}

  async insert(s: NewScheduleRow): Promise<void> {
    await this.sql.run(
      `INSERT INTO maintenance_schedules (id, target_json, cron, at, image, mode, timeout_ms, next_fire_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [s.id, JSON.stringify(s.target), s.cron, s.at, s.image, s.mode, s.timeoutMs, s.nextFireAt, s.createdAt],
    );
  }

  async get(id: string): Promise<MaintenanceSchedule | undefined> {
    const raw = await this.sql.get("SELECT * FROM maintenance_schedules WHERE id = ?", [id]);
    return raw === undefined ? undefined : toSchedule(raw);
  }

  async list(): Promise<MaintenanceSchedule[]> {
    return (await this.sql.all("SELECT * FROM maintenance_schedules ORDER BY created_at, id")).map(
      toSchedule,
    );
  }

  async remove(id: string): Promise<boolean> {
    return (await this.sql.run("DELETE FROM maintenance_schedules WHERE id = ?", [id])) > 0;
  }

  async due(at: string): Promise<MaintenanceSchedule[]> {
    const rows = await this.sql.all(
      "SELECT * FROM maintenance_schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at, id",
      [at],
    );
    return rows.map(toSchedule);
  }

  async claim(
    id: string,
    expectedNext: string | null,
    nextFireAt: string | null,
    at: string,
  ): Promise<boolean> {
    const changed = await this.sql.run(
      `UPDATE maintenance_schedules SET next_fire_at = ?, last_fired_at = ?, fired = fired + 1
         WHERE id = ? AND next_fire_at = ?`,
      [nextFireAt, at, id, expectedNext],
    );
    return changed === 1;
  }
}

const ReportRow = z.object({
  at: z.string(),
  os: z.string(),
  figures_json: z.string(),
  crossed_json: z.string(),
});

export class HealthTable implements HealthRows {
  constructor(private readonly sql: Sql) {}

  async latched(machineId: string): Promise<string[]> {
    const rows = await this.sql.all("SELECT rule FROM health_alerts WHERE machine_id = ? ORDER BY rule", [
      machineId,
    ]);
    return rows.map((raw) => z.object({ rule: z.string() }).parse(raw).rule);
  }

  async latch(machineId: string, rule: string, at: string): Promise<void> {
    await this.sql.run("INSERT INTO health_alerts (machine_id, rule, since) VALUES (?, ?, ?)", [
      machineId,
      rule,
      at,
    ]);
  }

  async unlatch(machineId: string, rule: string): Promise<void> {
    await this.sql.run("DELETE FROM health_alerts WHERE machine_id = ? AND rule = ?", [machineId, rule]);
  }

  async insertReport(machineId: string, report: StoredHealthReport): Promise<void> {
    await this.sql.run(
      "INSERT INTO health_reports (machine_id, at, os, figures_json, crossed_json) VALUES (?, ?, ?, ?, ?)",
      [machineId, report.at, report.os, JSON.stringify(report.figures), JSON.stringify(report.crossed)],
    );
  }

  async trim(machineId: string, keep: number): Promise<void> {
    await this.sql.run(
      `DELETE FROM health_reports WHERE machine_id = ? AND seq <= (
         SELECT seq FROM health_reports WHERE machine_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      [machineId, machineId, keep],
    );
  }

  async history(machineId: string, limit: number): Promise<StoredHealthReport[]> {
    const rows = await this.sql.all(
      "SELECT * FROM health_reports WHERE machine_id = ? ORDER BY seq DESC LIMIT ?",
      [machineId, limit],
    );
    return rows
      .map((raw) => {
        const row = ReportRow.parse(raw);
        return {
          at: row.at,
          os: row.os,
          figures: HealthFigures.parse(JSON.parse(row.figures_json)),
          crossed: z.array(z.string()).parse(JSON.parse(row.crossed_json)),
        };
      })
      .reverse();
  }
}

export class BootAreaTable implements BootAreaRows {
  constructor(private readonly sql: Sql) {}

  async put(machineId: string, record: BootAreaRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO boot_areas (machine_id, record_json) VALUES (?, ?)
       ON CONFLICT (machine_id) DO UPDATE SET record_json = excluded.record_json`,
      [machineId, JSON.stringify(record)],
    );
  }

  async get(machineId: string): Promise<BootAreaRecord | undefined> {
    const row = z
      .object({ record_json: z.string() })
      .optional()
      .parse(await this.sql.get("SELECT record_json FROM boot_areas WHERE machine_id = ?", [machineId]));
    return row ? BootAreaRecord.parse(JSON.parse(row.record_json)) : undefined;
  }
}
