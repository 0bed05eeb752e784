// The store interface: every read and write of server state goes through it. Async so a PostgreSQL
// implementation can follow the SQLite one without touching callers (style.md §11). Each method is one
// transaction; the decisions inside them are the pure functions in server/ (reconciler, results).
import type {
  AgentEvent,
  BootCategory,
  CallHome,
  CallHomeAccepted,
  CommandKind,
  CommandResult,
  Difference,
  Inventory,
  LeasedCommand,
  MacAddress,
  Machine,
  PolicyFormat,
  QueuedCommand,
  StoredPolicy,
} from "../../protocol/index.js";
import type { LeaseDurations } from "../reconciler.js";
import type { Where } from "../selector.js";
import type { ImageCatalog } from "./image-catalog.js";
import type { UploadCatalog } from "./upload-catalog.js";
import type { SqliteHealth } from "./sqlite-health.js";
import type { SqliteMachineSettings } from "./sqlite-machine-settings.js";
import type { SqliteMaintenance } from "./sqlite-maintenance.js";
import type { SqliteSchedules } from "./sqlite-schedules.js";

// The maintenance swap's parts (issue 9), by their public surface: a PostgreSQL store provides the same.
export type MaintenanceStore = Pick<
  SqliteMaintenance,
  | "start"
  | "runs"
  | "run"
  | "runForCommand"
  | "recordPower"
  | "inBandReboot"
  | "progress"
  | "addStep"
  | "restore"
  | "leaseBootInstalled"
  | "sweep"
  | "takeUnalerted"
>;
export type ScheduleStore = Pick<SqliteSchedules, "add" | "list" | "remove" | "due" | "fire">;
export type HealthStore = Pick<SqliteHealth, "record" | "history">;
export type MachineSettingsStore = Pick<
  SqliteMachineSettings,
  "setPower" | "power" | "putBootArea" | "bootArea"
>;

export interface LogEntry {
  seq: number;
  machineId: string;
  at: string;
  /** A constant event name: "discovered", "inventory", "command-leased", … */
  event: string;
  data: Record<string, unknown>;
}

export interface BootRequest {
  mac: MacAddress;
  /** SMBIOS UUID iPXE reported, if any (identity falls back to the MAC). */
  uuid: string | null;
  at: Date;
}

export interface BootAnswer {
  machine: Machine;
  isNew: boolean;
  /** What iPXE boots: our loader, or the machine's own disk (installed, or rebooting into its install). */
  answer: "local-disk" | "loader";
}

export type EventOutcome = { kind: "recorded"; category: BootCategory } | { kind: "refused"; reason: string };

export type CompleteOutcome =
  | { kind: "applied"; category: BootCategory }
  | { kind: "duplicate"; category: BootCategory }
  | { kind: "refused"; reason: string };

export interface Store {
  /** The image store's catalogue (the bytes are files: server/images/blob-store.ts). */
  readonly images: ImageCatalog;
  /** Resumable uploads of captured images (the bytes are files: server/images/uploads.ts). */
  readonly uploads: UploadCatalog;
  /** Maintenance swaps (seeds 001, 004): runs, schedules, health reports, power and boot-area settings. */
  readonly maintenance: MaintenanceStore;
  readonly schedules: ScheduleStore;
  readonly health: HealthStore;
  readonly settings: MachineSettingsStore;
  /** iPXE asked for a machine's script: enroll it as `discovered` if new, else note it was seen. */
  recordBootRequest(request: BootRequest): Promise<BootAnswer>;
  /** The loader posted an inventory: enroll (if booted without iPXE) or update. */
  recordInventory(inventory: Inventory, at: Date): Promise<Machine>;
  listMachines(): Promise<Machine[]>;
  getMachine(id: string): Promise<Machine | undefined>;
  machineLog(id: string): Promise<LogEntry[]>;

  /** Sets (or clears, with null) what a machine is expected to be, and queues the commands that close the gap. */
  setExpected(id: string, expected: BootCategory | null, at: Date): Promise<Machine | undefined>;
  /** The same for every machine matching `where`; returns their ids. */
  setExpectedWhere(where: Where, expected: BootCategory | null, at: Date): Promise<string[]>;
  /** The stored difference list. */
  differences(): Promise<Difference[]>;
  /** A machine's commands, newest last (all states). */
  machineQueue(id: string): Promise<QueuedCommand[]>;
  /**
   * Leases the machine's next command for `leaseMs`, first handing expired leases back to the queue.
   * Undefined when there is nothing to run (or a live lease is still out).
   */
  leaseNext(id: string, at: Date, durations: LeaseDurations): Promise<LeasedCommand | undefined>;
  /**
   * Hands back (or, past their attempts, fails) every lease that ran out, on machines that are not asking:
   * a machine rebooted into an install that never calls home is one. Returns the machines it touched.
   */
  expireLeasesDue(at: Date): Promise<string[]>;
  /** Applies a command's result once; a retried post is a duplicate; a stale lease is refused. */
  completeCommand(id: string, commandId: string, result: CommandResult, at: Date): Promise<CompleteOutcome>;
  /** Machines with a queued or leased command of this kind. */
  machinesWithPending(kind: CommandKind): Promise<string[]>;
  /** An agent's step or progress event for its leased command: logged, or refused when the lease is not current. */
  recordAgentEvent(id: string, event: AgentEvent, at: Date): Promise<EventOutcome>;
  /**
   * The installed OS called home: completes the machine's boot-installed command (→ installed) when it
   * is waiting for that; otherwise it is logged (a later reboot, or a call after the wait timed out).
   */
  recordCallHome(id: string, call: CallHome, at: Date): Promise<CallHomeAccepted>;
  /** The current policy's text, or undefined before one is set. */
  getPolicy(): Promise<StoredPolicy | undefined>;
  /** Replaces the policy (the caller has validated it); the version goes up by one. */
  setPolicy(source: string, format: PolicyFormat, at: Date): Promise<StoredPolicy>;
  close(): Promise<void>;
}
