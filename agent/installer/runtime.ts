// Runs a tailored agent's steps in order, each with a timeout, reporting every step; stops at the first
// failure (later steps build on earlier ones).
import type { AgentPlan, Inventory, StepReport } from "../../protocol/index.js";
import type { InstallerPlugin, StepContext } from "./plugin.js";

export interface AgentRun {
  inventory: Inventory;
  root: string;
  signal: AbortSignal;
  progress: StepContext["progress"];
  /** Called after each step, e.g. to send the report to the server. */
  onStep: (report: StepReport) => Promise<void>;
}

export async function runSteps(
  plan: AgentPlan,
  plugins: readonly InstallerPlugin[],
  run: AgentRun,
): Promise<StepReport[]> {
  const reports: StepReport[] = [];
  for (const plugin of plugins) {
    for (const step of plugin.steps) {
      run.signal.throwIfAborted();
      const started = performance.now();
      let report: StepReport;
      try {
        const data = await step.run({
          inventory: run.inventory,
          plan,
          signal: run.signal,
          root: run.root,
          progress: run.progress,
        });
        report = {
          plugin: plugin.name,
          step: step.name,
          ok: true,
          ms: Math.round(performance.now() - started),
          data,
          error: null,
        };
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        report = {
          plugin: plugin.name,
          step: step.name,
          ok: false,
          ms: Math.round(performance.now() - started),
          data: {},
          error,
        };
      }
      reports.push(report);
      await run.onStep(report);
      if (!report.ok) return reports;
    }
  }
  return reports;
}
