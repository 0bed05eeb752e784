// A maintenance run as stored (one row of maintenance_runs) and as the wire shows it: rows are a
// boundary too, parsed with their schemas (a row that no longer parses says so, it is not passed on).
import * as z from "zod";
import {
  ImagePurpose,
  MaintenanceMode,
  MaintenanceReport,
  MaintenanceRunState,
  MaintenanceStep,
  MaintenanceTrigger,
  OriginalTarget,
  PowerAction,
  type MaintenanceRun,
} from "../../../protocol/index.js";

const ExtraSteps = z.array(z.strictObject({ step: MaintenanceStep, delivered: z.boolean() }));

export const RunRow = z.object({
  id: z.string(),
  machine_id: z.string(),
  image_sha256: z.string(),
  image_name: z.string(),
  image_purpose: ImagePurpose,
  mode: MaintenanceMode,
  trigger_json: z.string(),
  state: MaintenanceRunState,
  original_json: z.string(),
  steps_json: z.string(),
  extra_steps_json: z.string(),
  report_json: z.string().nullable(),
  power_json: z.string(),
  command_id: z.string(),
  started_at: z.string(),
  deadline_at: z.string(),
  running_at: z.string().nullable(),
  last_progress_at: z.string().nullable(),
  reported_at: z.string().nullable(),
  ended_at: z.string().nullable(),
  error: z.string().nullable(),
});
export type RunRow = z.infer<typeof RunRow>;

export const json = (text: string): unknown => JSON.parse(text);

export function toRun(row: RunRow): MaintenanceRun {
  return {
    id: row.id,
    machineId: row.machine_id,
    image: { name: row.image_name, sha256: row.image_sha256, purpose: row.image_purpose },
    mode: row.mode,
    trigger: MaintenanceTrigger.parse(json(row.trigger_json)),
    state: row.state,
    original: OriginalTarget.parse(json(row.original_json)),
    commandId: row.command_id,
    steps: z.array(MaintenanceStep).parse(json(row.steps_json)),
    extraSteps: ExtraSteps.parse(json(row.extra_steps_json)),
    report: row.report_json === null ? null : MaintenanceReport.parse(json(row.report_json)),
    power: z.array(PowerAction).parse(json(row.power_json)),
    startedAt: row.started_at,
    deadlineAt: row.deadline_at,
    runningAt: row.running_at,
    lastProgressAt: row.last_progress_at,
    reportedAt: row.reported_at,
    endedAt: row.ended_at,
    error: row.error,
  };
}
