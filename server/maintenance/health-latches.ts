// Health reports (seed 004): each one stored (a bounded history per machine), and the rules it puts
// beyond their thresholds latched: a rule fires once per crossing and again only after the figure has
// come back within its threshold.
import type { HealthReport } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";

/** Reports kept per machine: enough to see a trend, bounded so a chatty reporter cannot fill the disk. */
const KEPT_PER_MACHINE = 200;

/** A rule's verdict on one report: beyond its threshold or not. */
export interface RuleReading {
  rule: string;
  beyond: boolean;
}

/** Stores a report and updates the latches: returns the rules that crossed now. */
export async function recordHealth(
  rows: Rows,
  machineId: string,
  report: HealthReport,
  readings: readonly RuleReading[],
  when: Date,
): Promise<string[]> {
  const at = when.toISOString();
  const latched = new Set(await rows.health.latched(machineId));
  const crossed: string[] = [];
  for (const { rule, beyond } of readings) {
    if (beyond && !latched.has(rule)) {
      await rows.health.latch(machineId, rule, at);
      crossed.push(rule);
    } else if (!beyond && latched.has(rule)) {
      await rows.health.unlatch(machineId, rule);
      await rows.log.append(machineId, at, "health-recovered", { rule, figures: report.figures });
    }
  }
  await rows.health.insertReport(machineId, { at, os: report.os, figures: report.figures, crossed });
  await rows.health.trim(machineId, KEPT_PER_MACHINE);
  return crossed;
}
