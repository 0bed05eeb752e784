// Maintenance runs and their reports: each step's outcome, time and findings.
import type { MaintenanceRun } from "../../../protocol/maintenance.js";
import { brief, formatDuration, formatTime } from "../format.js";

function trigger(run: MaintenanceRun): string {
  switch (run.trigger.kind) {
    case "operator":
      return "operator";
    case "schedule":
      return `schedule ${run.trigger.scheduleId}`;
    case "health":
      return `health: ${run.trigger.figure} ${run.trigger.comparison} ${run.trigger.threshold} (was ${run.trigger.value})`;
  }
}

export function MaintenanceRuns(props: { runs: readonly MaintenanceRun[]; showMachine?: boolean }) {
  if (props.runs.length === 0) return <p class="muted">no maintenance runs</p>;
  return (
    <div class="runs">
      {[...props.runs].reverse().map((run) => (
        <article class="run" key={run.id} data-run={run.id} data-state={run.state}>
          <h3>
            {props.showMachine && (
              <>
                <a href={`#/machines/${encodeURIComponent(run.machineId)}`}>{run.machineId}</a>{" "}
              </>
            )}
            {run.image.name} ({run.mode}) — <span class={`run-state run-${run.state}`}>{run.state}</span>
          </h3>
          <p class="muted">
            {trigger(run)} · started {formatTime(run.startedAt)}
            {run.endedAt && ` · ended ${formatTime(run.endedAt)}`}
            {run.power.length > 0 &&
              ` · reboots: ${run.power.map((p) => `${p.via}${p.ok ? "" : " (failed)"}`).join(", ")}`}
          </p>
          {run.error && <p class="status error">{run.error}</p>}
          {run.extraSteps.length > 0 && (
            <p>
              Extra steps:{" "}
              {run.extraSteps
                .map((e) => `${e.step.name}${e.delivered ? "" : " (not yet delivered)"}`)
                .join(", ")}
            </p>
          )}
          {run.report && (
            <table class="grid report" aria-label={`Report of run ${run.id}`}>
              <caption>Report: {run.report.ok ? "every step passed" : "a step failed"}</caption>
              <thead>
                <tr>
                  <th>Step</th>
                  <th>Result</th>
                  <th>Took</th>
                  <th>Findings</th>
                </tr>
              </thead>
              <tbody>
                {run.report.steps.map((step, i) => (
                  <tr key={i}>
                    <td>
                      {step.name}
                      {step.extra ? " (extra)" : ""}
                    </td>
                    <td class={step.ok ? "ok" : "error"}>{step.ok ? "ok" : `failed: ${step.error ?? ""}`}</td>
                    <td class="num">{formatDuration(step.ms)}</td>
                    <td class="details">
                      {Object.entries(step.data)
                        .map(([k, v]) => `${k}=${brief(v)}`)
                        .join("  ")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </article>
      ))}
    </div>
  );
}
