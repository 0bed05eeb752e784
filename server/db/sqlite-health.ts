// Health reports in the embedded store (seed 004): the last reports of each machine, and which health
// rules are latched on it (crossed, fired once, waiting for the figure to come back).
import type Database from "better-sqlite3";
import type { Statements } from "./statements.js";
import { z } from "zod";
import { HealthFigures, type HealthReport, type StoredHealthReport } from "../../protocol/index.js";
import type { MachineWrites } from "./machine-writes.js";

/** Reports kept per machine: enough to see a trend, bounded so a chatty reporter cannot fill the disk. */
const KEPT_PER_MACHINE = 200;

const ReportRow = z.object({
  at: z.string(),
  os: z.string(),
  figures_json: z.string(),
  crossed_json: z.string(),
});

/** A rule's verdict on one report: beyond its threshold or not. */
export interface RuleReading {
  rule: string;
  beyond: boolean;
}

export class SqliteHealth {
  constructor(
    private readonly statements: Statements,
    private readonly machines: MachineWrites,
  ) {}

  private sql(text: string): Database.Statement {
    return this.statements.get(text);
  }

  /**
   * Stores a report and updates the latches: returns the rules that crossed now (beyond their threshold
   * and not latched before). A rule back within its threshold is unlatched, so it can fire again later.
   */
  record(
    machineId: string,
    report: HealthReport,
    readings: readonly RuleReading[],
    when: Date,
  ): Promise<string[]> {
    const at = when.toISOString();
    return Promise.resolve(
      this.statements.db.transaction(() => {
        const latched = new Set(
          this.sql("SELECT rule FROM health_alerts WHERE machine_id = ?")
            .all(machineId)
            .map((raw) => z.object({ rule: z.string() }).parse(raw).rule),
        );
        const crossed: string[] = [];
        for (const { rule, beyond } of readings) {
          if (beyond && !latched.has(rule)) {
            this.sql("INSERT INTO health_alerts (machine_id, rule, since) VALUES (?, ?, ?)").run(
              machineId,
              rule,
              at,
            );
            crossed.push(rule);
          } else if (!beyond && latched.has(rule)) {
            this.sql("DELETE FROM health_alerts WHERE machine_id = ? AND rule = ?").run(machineId, rule);
            this.machines.log(machineId, at, "health-recovered", { rule, figures: report.figures });
          }
        }
        this.sql(
          "INSERT INTO health_reports (machine_id, at, os, figures_json, crossed_json) VALUES (?, ?, ?, ?, ?)",
        ).run(machineId, at, report.os, JSON.stringify(report.figures), JSON.stringify(crossed));
        this.sql(
          `DELETE FROM health_reports WHERE machine_id = ? AND seq <= (
               SELECT seq FROM health_reports WHERE machine_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
        ).run(machineId, machineId, KEPT_PER_MACHINE);
        return crossed;
      })(),
    );
  }

  /** The machine's latest reports, newest last. */
  history(machineId: string, limit = 50): Promise<StoredHealthReport[]> {
    const rows: unknown[] = this.sql(
      "SELECT * FROM health_reports WHERE machine_id = ? ORDER BY seq DESC LIMIT ?",
    ).all(machineId, limit);
    return Promise.resolve(
      rows
        .map((raw) => {
          const row = ReportRow.parse(raw);
          return {
            at: row.at,
            os: row.os,
            figures: HealthFigures.parse(JSON.parse(row.figures_json)),
            crossed: z.array(z.string()).parse(JSON.parse(row.crossed_json)),
          };
        })
        .reverse(),
    );
  }
}
