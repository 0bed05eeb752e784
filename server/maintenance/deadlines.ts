// When a maintenance run is overdue (pure): the monitor fails such runs with this reason.
import type { MaintenanceRun } from "../../protocol/index.js";

/**
 * Why a run is overdue at `when`, or undefined: its machine never booted the maintenance image, its image
 * never reported by the deadline, or (active mode) its report is more than `stallMs` late.
 */
export function overdue(run: MaintenanceRun, when: Date, stallMs: number): string | undefined {
  const now = when.getTime();
  if (run.state === "rebooting" && now > Date.parse(run.deadlineAt)) {
    const reboots = run.power.map((p) => `${p.via} ${p.ok ? "ok" : `failed: ${p.error ?? "?"}`}`).join(", ");
    return `machine did not boot maintenance image ${run.image.name} by ${run.deadlineAt} (reboots: ${reboots || "none"})`;
  }
  if (run.state !== "running") return undefined;
  if (now > Date.parse(run.deadlineAt))
    return `maintenance image ${run.image.name} did not report completion by ${run.deadlineAt}`;
  const last = run.lastProgressAt ?? run.runningAt;
  if (run.mode === "active" && last !== null && now - Date.parse(last) > stallMs)
    return `active maintenance run stopped reporting: last report at ${last}, one was due every ${Math.round(stallMs / 1000)} s`;
  return undefined;
}
