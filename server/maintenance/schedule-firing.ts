// Timed maintenance programs (seed 001): firing claims the schedule's fire time and starts the swaps in
// one transaction, so a schedule fires once per time, also across a server restart (a time missed while
// the server was down fires once when it is back).
import { randomUUID } from "node:crypto";
import type { ImageRecord, MaintenanceSchedule } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { matchesWhere } from "../selector.js";
import { startRun } from "./runs.js";

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

export async function addSchedule(
  rows: Rows,
  schedule: NewSchedule,
  when: Date,
): Promise<MaintenanceSchedule> {
  const id = randomUUID();
  await rows.schedules.insert({ id, ...schedule, createdAt: when.toISOString() });
  const stored = await rows.schedules.get(id);
  if (!stored) throw new Error(`schedule ${id} vanished inside its own transaction`);
  return stored;
}

async function targets(rows: Rows, schedule: MaintenanceSchedule): Promise<string[]> {
  const { target } = schedule;
  if ("machine" in target) return [target.machine];
  return (await rows.machines.list())
    .filter((machine) => matchesWhere(machine, target.where))
    .map((machine) => machine.id)
    .sort();
}

/**
 * Fires a due schedule once: claims its fire time (nothing happens if another firing took it), moves
 * it to `nextFireAt` (null: a one-time schedule is done) and starts a swap on each target machine.
 */
export async function fireSchedule(
  rows: Rows,
  schedule: MaintenanceSchedule,
  image: ImageRecord | undefined,
  nextFireAt: string | null,
  defaults: { timeoutMs: number },
  when: Date,
): Promise<Firing | undefined> {
  const at = when.toISOString();
  if (!(await rows.schedules.claim(schedule.id, schedule.nextFireAt, nextFireAt, at))) return undefined;
  const firing: Firing = { schedule, started: [], skipped: [] };
  const fireTime = schedule.nextFireAt ?? at;
  for (const machineId of await targets(rows, schedule)) {
    if (!image) {
      firing.skipped.push({ machineId, reason: `image ${schedule.image} is not in the image store` });
      continue;
    }
    await rows.machines.lock(machineId);
    const outcome = await startRun(
      rows,
      machineId,
      {
        image,
        mode: schedule.mode,
        timeoutMs: schedule.timeoutMs ?? defaults.timeoutMs,
        steps: [],
        trigger: { kind: "schedule", scheduleId: schedule.id, when: fireTime },
      },
      when,
    );
    if (outcome.kind === "ok") firing.started.push(outcome.run.id);
    else firing.skipped.push({ machineId, reason: outcome.reason });
  }
  for (const { machineId, reason } of firing.skipped)
    if (await rows.machines.get(machineId))
      await rows.log.append(machineId, at, "maintenance-schedule-skipped", { schedule: schedule.id, reason });
  return firing;
}
