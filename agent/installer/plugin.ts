// The one shape every installer plugin has (style.md §6, after ironic-python-agent's hardware managers):
// a pure probe that rates how well it applies to this machine and plan, and the steps it runs. Types only.
import type { AgentPlan, Inventory } from "../../protocol/index.js";
import type { RunOptions, RunResult } from "../shared/run-command.js";

/** How specifically a plugin applies: the builder bundles only plugins rated above "none". */
export type Support = "none" | "generic" | "mainline" | "vendor";

/**
 * When a plugin's steps run: `configure` (run-agent: firmware, RAID, partitions) or `image` (write-image:
 * the transfer, which the server batches across machines).
 */
export type Phase = "configure" | "image";

/**
 * Runs a program (argv, never a shell string) and resolves with its output, or throws CommandError:
 * agent/shared/run-command.ts on a machine; tests pass a fake that answers only what they expect.
 */
export type Exec = (command: string, argv: readonly string[], options: RunOptions) => Promise<RunResult>;

/** Who this machine is and where its server is (the image URL, the marker the installed OS reads). */
export interface MachineIdentity {
  id: string;
  serverUrl: string;
  /** The loader's credential, sent on every call to the server (agent/shared/credential.ts). */
  credential: string;
  /** For write-image: the installed OS's own credential, written into the marker for its call home. */
  osCredential?: string;
  /** The CA the loader pinned (PEM), when the server runs TLS: written beside the marker for the OS. */
  caPem?: string;
}

export interface StepContext {
  inventory: Inventory;
  plan: AgentPlan;
  machine: MachineIdentity;
  signal: AbortSignal;
  /** Root of /sys, /dev and /proc (tests point it elsewhere). */
  root: string;
  /** A readable progress line on the console, and the same event to the server. */
  progress: (message: string, fields?: Record<string, unknown>) => void;
  /** How steps run programs (mdadm, mkfs, chattr…). */
  exec: Exec;
}

export interface Step {
  name: string;
  /** Safe to run again after a reboot; returns what it found or did. */
  run: (ctx: StepContext) => Promise<Record<string, unknown>>;
}

/**
 * What the server needs of a plugin to choose it: its name, phase and pure probe. Each lives in
 * probes/<plugin>.ts, which imports nothing with I/O, so the server loads the probes (registry.ts)
 * without any plugin's steps (undici, child_process…).
 */
export interface PluginProbe {
  name: string;
  phase: Phase;
  /** Pure: no I/O. The server runs it to choose the plugins of a machine's agent. */
  probe: (inventory: Inventory, plan: AgentPlan) => Support;
}

/** A whole plugin (plugins/<plugin>.ts): its probe and the steps it runs on the machine. */
export interface InstallerPlugin extends PluginProbe {
  steps: readonly Step[];
}
