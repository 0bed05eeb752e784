// Commands: the steps that move a machine from its current boot category to its expected one (seed
// 000). The agent leases one, runs it, and posts the result with the command id and lease id.
import * as z from "zod";
import { BootCategory } from "./boot-category.js";
import { StepReport } from "./agent-plan.js";
import { Inventory } from "./inventory.js";
import { MaintenanceAssignment, MaintenanceReport } from "./maintenance.js";
import { DiskErase, EraseMode } from "./release.js";

export const CommandKind = z.enum([
  /** Gather the inventory again and return it; the server stores it. */
  "report-inventory",
  /** Read the first and last MiB of every disk: proves each is present and readable. */
  "check-disks",
  /** Fetch the machine's tailored agent (sha256-pinned) and run its steps. */
  "run-agent",
  /** Server-side: resolve the policy into the machine's plan. Done while reconciling, never leased. */
  "resolve-policy",
  /** The same tailored agent's image phase: stream the plan's image to disk, verify it, write the marker. */
  "write-image",
  /**
   * Reboot into the installed system. The agent does not report it: the installed OS calling home
   * completes it (POST /v1/machines/:id/callhome); its lease running out first fails the machine.
   */
  "boot-installed",
  /**
   * Run a maintenance image (seed 001) from the network-booted loader: queued by a maintenance swap, not
   * by the reconciler; its result is the run's completion signal and report.
   */
  "run-maintenance",
  /** Erase every disk (quick, full or secure: protocol/release.ts) and read it back: → released. */
  "erase-disks",
]);
export type CommandKind = z.infer<typeof CommandKind>;

/** A command as the agent receives it with its lease. */
export const LeasedCommand = z.strictObject({
  id: z.string(),
  kind: CommandKind,
  /** Echo this with the result: a result under an expired or foreign lease is refused. */
  leaseId: z.string(),
  leaseExpiresAt: z.string(),
  /** How long the agent may take before it gives up (the lease outlasts it). */
  timeoutMs: z.number().int().positive(),
  /** For run-agent and write-image: where the tailored bundle is and the sha256 it must have. */
  agent: z
    .strictObject({
      url: z.string(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      plugins: z.array(z.string()),
    })
    .optional(),
  /** For run-maintenance: the image to run, its steps, its mode and deadline. */
  maintenance: MaintenanceAssignment.optional(),
  /** For write-image: the installed OS's credential, which the agent writes into the marker. */
  osCredential: z.string().optional(),
  /**
   * For boot-installed: "kexec" when the loader may start the installed kernel itself (the plan's
   * `reboot`, when nothing needs a firmware reset); absent: reboot through the firmware.
   */
  reboot: z.literal("kexec").optional(),
  /** For erase-disks: how (the release's --erase). */
  erase: z.strictObject({ mode: EraseMode }).optional(),
});
export type LeasedCommand = z.infer<typeof LeasedCommand>;

export const DiskCheck = z.strictObject({
  name: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  bytesRead: z.number().int().nonnegative(),
  ms: z.number().nonnegative(),
});
export type DiskCheck = z.infer<typeof DiskCheck>;

/** What a successful command returns, by kind. */
export const CommandOutput = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("report-inventory"), inventory: Inventory }),
  z.strictObject({ kind: z.literal("check-disks"), disks: z.array(DiskCheck) }),
  z.strictObject({ kind: z.literal("run-agent"), sha256: z.string(), steps: z.array(StepReport) }),
  z.strictObject({ kind: z.literal("write-image"), sha256: z.string(), steps: z.array(StepReport) }),
  z.strictObject({ kind: z.literal("run-maintenance"), runId: z.string(), report: MaintenanceReport }),
  z.strictObject({ kind: z.literal("erase-disks"), mode: EraseMode, disks: z.array(DiskErase) }),
]);
export type CommandOutput = z.infer<typeof CommandOutput>;

/** POST /v1/machines/:id/commands/:commandId/result */
export const CommandResult = z.discriminatedUnion("outcome", [
  z.strictObject({ leaseId: z.string(), outcome: z.literal("succeeded"), output: CommandOutput }),
  z.strictObject({ leaseId: z.string(), outcome: z.literal("failed"), error: z.string().min(1) }),
]);
export type CommandResult = z.infer<typeof CommandResult>;

/**
 * The result post's query: `?next=1` asks the server to lease the machine's next command in the same
 * transaction that applies the result and put it in the answer, so a machine with several commands
 * queued makes one request per command instead of two. Without it the answer carries no lease (a client
 * that would not run it must not hold one until it expires).
 */
export const CommandResultQuery = z.strictObject({ next: z.literal("1").optional() });
export type CommandResultQuery = z.infer<typeof CommandResultQuery>;

export const CommandResultAccepted = z.strictObject({
  /** True when this result had been applied already (a retried post): nothing happened twice. */
  duplicate: z.boolean(),
  category: BootCategory,
  /**
   * With `?next=1`: the machine's next command, leased as GET next would lease it, or null when there
   * is nothing to run now (the agent goes back to polling next). A duplicate post answers with the
   * lease the first answer gave while it is live, else null: it never leases twice. Absent without
   * `?next=1`, and from servers that predate it.
   */
  next: LeasedCommand.nullable().optional(),
});
export type CommandResultAccepted = z.infer<typeof CommandResultAccepted>;

export const CommandState = z.enum(["queued", "leased", "succeeded", "failed", "cancelled"]);
export type CommandState = z.infer<typeof CommandState>;

/** A command as the queue shows it (GET /v1/machines/:id/queue). */
export const QueuedCommand = z.strictObject({
  id: z.string(),
  machineId: z.string(),
  kind: CommandKind,
  state: CommandState,
  /** The category a success moves the machine to. */
  onSuccess: BootCategory,
  attempts: z.number().int().nonnegative(),
  leaseExpiresAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  error: z.string().nullable(),
});
export type QueuedCommand = z.infer<typeof QueuedCommand>;

/**
 * POST /v1/machines/:id/events — what an agent says while a command runs: a step starting or ending,
 * or progress (bytes written, rate). The server logs it; progress under a live lease keeps the lease.
 */
export const AgentEvent = z.strictObject({
  commandId: z.string(),
  leaseId: z.string(),
  event: z.enum(["step-started", "step-finished", "progress"]),
  plugin: z.string(),
  step: z.string(),
  message: z.string().max(500),
  data: z.record(z.string(), z.unknown()),
});
export type AgentEvent = z.infer<typeof AgentEvent>;

export const AgentEventAccepted = z.strictObject({ category: BootCategory });
export type AgentEventAccepted = z.infer<typeof AgentEventAccepted>;

/** POST /v1/machines/:id/callhome — the installed OS says it booted, with what its marker names. */
export const CallHome = z.strictObject({
  image: z.string(),
  planHash: z.string(),
  /** What booted, e.g. "debian 6.1.0-28-amd64". */
  os: z.string().max(200),
});
export type CallHome = z.infer<typeof CallHome>;

export const CallHomeAccepted = z.strictObject({
  category: BootCategory,
  /** True when this call completed the machine's install (its boot-installed command). */
  completedInstall: z.boolean(),
  /**
   * The OS's next credential: it replaces the one this call used, which keeps working until this one
   * is first used (so a lost answer does not lock the OS out).
   */
  credential: z.string(),
});
export type CallHomeAccepted = z.infer<typeof CallHomeAccepted>;
