// Runs a tailored agent's steps in order, each with a timeout, reporting every step; stops at the first
// failure (later steps build on earlier ones).
import type { AgentPlan, Inventory, StepReport } from "../../protocol/index.js";
import { run as runProgram } from "../shared/run-command.js";
import type { Exec, InstallerPlugin, MachineIdentity, Phase, StepContext } from "./plugin.js";

export interface AgentRun {
  /** Which of the agent's plugins run now (each command runs one phase). */
  phase: Phase;
  machine: MachineIdentity;
  inventory: Inventory;
  root: string;
  signal: AbortSignal;
  progress: StepContext["progress"];
  /** How steps run programs; the real one (agent/shared/run-command.ts) unless a test passes a fake. */
  exec?: Exec;
  /** Called before each step starts. */
  onStepStart: (plugin: string, step: string) => Promise<void>;
  /** Called after each step, e.g. to send the report to the server. */
  onStep: (report: StepReport) => Promise<void>;
}

export async function runSteps(
  plan: AgentPlan,
  plugins: readonly InstallerPlugin[],
  run: AgentRun,
): Promise<StepReport[]> {
  const reports: StepReport[] = [];
  for (const plugin of plugins.filter((p) => p.phase === run.phase)) {
    for (const step of plugin.steps) {
      run.signal.throwIfAborted();
      await run.onStepStart(plugin.name, step.name);
      const started = performance.now();
      let report: StepReport;
      try {
        const data = await step.run({
          inventory: run.inventory,
          plan,
          machine: run.machine,
          signal: run.signal,
          root: run.root,
          progress: run.progress,
          exec: run.exec ?? runProgram,
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
