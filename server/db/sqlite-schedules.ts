// Timed maintenance programs (seed 001) in the embedded store: each schedule keeps its next fire time;
// firing claims that time and starts the swaps in one transaction, so a schedule fires once per time,
// also across a server restart (a time missed while the server was down fires once when it is back).
import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import type { Statements } from "./statements.js";
import { z } from "zod";
import {
  MaintenanceMode,
  ScheduleTarget,
  type ImageRecord,
  type MaintenanceSchedule,
} from "../../protocol/index.js";
import { matchesWhere } from "../selector.js";
import type { MachineWrites } from "./machine-writes.js";
import type { SqliteMaintenance } from "./sqlite-maintenance.js";

const ScheduleRow = z.object({
  id: z.string(),
  target_json: z.string(),
  cron: z.string().nullable(),
  at: z.string().nullable(),
  image: z.string(),
  mode: MaintenanceMode,
  timeout_ms: z.number().nullable(),
  next_fire_at: z.string().nullable(),
  last_fired_at: z.string().nullable(),
  fired: z.number(),
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

export interface NewSchedule {
  target: MaintenanceSchedule["target"];
  cron: string | null;
  at: string | null;
  image: string;
  mode: MaintenanceSchedule["mode"];
  timeoutMs: number | null;
  nextFireAt: string;
}

/** What one firing did: the runs it started and, per machine, why one was not started. */
export interface Firing {
  schedule: MaintenanceSchedule;
  started: string[];
  skipped: { machineId: string; reason: string }[];
}

export class SqliteSchedules {
  constructor(
    private readonly statements: Statements,
    private readonly machines: MachineWrites,
    private readonly maintenance: SqliteMaintenance,
  ) {}

  private sql(text: string): Database.Statement {
    return this.statements.get(text);
  }

  add(schedule: NewSchedule, when: Date): Promise<MaintenanceSchedule> {
    const id = randomUUID();
    this.sql(
      `INSERT INTO maintenance_schedules (id, target_json, cron, at, image, mode, timeout_ms, next_fire_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      JSON.stringify(schedule.target),
      schedule.cron,
      schedule.at,
      schedule.image,
      schedule.mode,
      schedule.timeoutMs,
      schedule.nextFireAt,
      when.toISOString(),
    );
    return Promise.resolve(toSchedule(this.sql("SELECT * FROM maintenance_schedules WHERE id = ?").get(id)));
  }

  list(): Promise<MaintenanceSchedule[]> {
    const rows: unknown[] = this.sql("SELECT * FROM maintenance_schedules ORDER BY created_at, id").all();
    return Promise.resolve(rows.map(toSchedule));
  }

  remove(id: string): Promise<boolean> {
    return Promise.resolve(this.sql("DELETE FROM maintenance_schedules WHERE id = ?").run(id).changes > 0);
  }

  /** Schedules whose next fire time has come. */
  due(when: Date): Promise<MaintenanceSchedule[]> {
    const rows: unknown[] = this.sql(
      "SELECT * FROM maintenance_schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at",
    ).all(when.toISOString());
    return Promise.resolve(rows.map(toSchedule));
  }

  /**
   * Fires a due schedule once: claims its fire time (nothing happens if another firing took it), moves
   * it to `nextFireAt` (null: a one-time schedule is done) and starts a swap on each target machine.
   */
  fire(
    schedule: MaintenanceSchedule,
    image: ImageRecord | undefined,
    nextFireAt: string | null,
    defaults: { timeoutMs: number },
    when: Date,
  ): Promise<Firing | undefined> {
    const at = when.toISOString();
    return Promise.resolve(
      this.statements.db.transaction((): Firing | undefined => {
        const claimed = this.sql(
          `UPDATE maintenance_schedules SET next_fire_at = ?, last_fired_at = ?, fired = fired + 1
             WHERE id = ? AND next_fire_at = ?`,
        ).run(nextFireAt, at, schedule.id, schedule.nextFireAt);
        if (claimed.changes !== 1) return undefined;
        const firing: Firing = { schedule, started: [], skipped: [] };
        const when_ = schedule.nextFireAt ?? at;
        for (const machineId of this.targets(schedule)) {
          if (!image) {
            firing.skipped.push({ machineId, reason: `image ${schedule.image} is not in the image store` });
            continue;
          }
          const outcome = this.maintenance.startNow(
            machineId,
            {
              image,
              mode: schedule.mode,
              timeoutMs: schedule.timeoutMs ?? defaults.timeoutMs,
              steps: [],
              trigger: { kind: "schedule", scheduleId: schedule.id, when: when_ },
            },
            when,
          );
          if (outcome.kind === "ok") firing.started.push(outcome.run.id);
          else firing.skipped.push({ machineId, reason: outcome.reason });
        }
        for (const { machineId, reason } of firing.skipped)
          if (this.machines.find(machineId))
            this.machines.log(machineId, at, "maintenance-schedule-skipped", {
              schedule: schedule.id,
              reason,
            });
        return firing;
      })(),
    );
  }

  private targets(schedule: MaintenanceSchedule): string[] {
    const { target } = schedule;
    if ("machine" in target) return [target.machine];
    return this.machines
      .all()
      .filter((machine) => matchesWhere(machine, target.where))
      .map((machine) => machine.id);
  }
}
