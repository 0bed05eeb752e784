// The shape of a maintenance image's program (seed 001): the module named by the image's manifest
// exports `steps`, a catalogue of named steps. The loader (agent/loader/maintenance-runner.ts) unpacks
// the image, imports the module and runs the steps the server asked for, in order, reporting each.
import type { Inventory, StepParams } from "../../../protocol/index.js";
import type { Exec, MachineIdentity } from "../plugin.js";

export interface MaintenanceStepContext {
  machine: MachineIdentity;
  inventory: Inventory;
  /** Root of /sys, /dev and /proc (tests point it elsewhere). */
  root: string;
  /** Where the image was unpacked: the tools it carries (bin/, lib/). */
  imageDir: string;
  /** The step's parameters (defaults come from the step itself). */
  params: StepParams;
  signal: AbortSignal;
  /** How the step runs programs (agent/shared/run-command.ts on a machine). */
  exec: Exec;
  /** A readable line on the console and, in active mode, the run's progress (percent when known). */
  progress: (message: string, fields?: Record<string, unknown> & { percent?: number }) => void;
}

export interface MaintenanceStepDefinition {
  /** One line: what the step checks or repairs (the manifest's catalogue). */
  describe: string;
  /** Returns what it found or did. Throws when it could not do its job (the run's report says so). */
  run: (ctx: MaintenanceStepContext) => Promise<Record<string, unknown>>;
}

export type MaintenanceProgram = Readonly<Record<string, MaintenanceStepDefinition>>;

/** A number parameter with its default and bounds: a wrong type or value is an error naming it. */
export function numberParam(
  params: StepParams,
  name: string,
  fallback: number,
  bounds: { min: number; max: number },
): number {
  const raw = params[name] ?? fallback;
  const value = typeof raw === "string" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isFinite(value) || value < bounds.min || value > bounds.max)
    throw new Error(
      `parameter ${name} must be a number from ${bounds.min} to ${bounds.max} (got ${String(raw)})`,
    );
  return value;
}
