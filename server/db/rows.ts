// The store, narrowly: what one transaction may read and write, as rows. Every behaviour (enrollment,
// reconciliation, leases, results, call home, the maintenance swap) is written once above this, in
// server/queue/, server/maintenance/ and server/policy/; SQLite (server/db/sqlite/) and PostgreSQL
// (server/db/postgres/) implement it and pass the same contract suite (server/db/contract/).
import type {
  AuditEntry,
  BootAreaRecord,
  BootEvent,
  BootCategory,
  CommandKind,
  CommandState,
  ImageOrigin,
  ImageRecord,
  Machine,
  MachineSummary,
  MaintenanceRun,
  MaintenanceSchedule,
  PolicyFormat,
  SharedUuid,
  EraseMode,
  PowerSettings,
  StoredHealthReport,
  StoredPolicy,
  StoredStation,
  TokenInfo,
  Traveler,
} from "../../protocol/index.js";
import type { Sql } from "./sql.js";

export interface LogEntry {
  seq: number;
  machineId: string;
  at: string;
  /** A constant event name: "discovered", "inventory", "command-leased", … */
  event: string;
  data: Record<string, unknown>;
}

/** One command of a machine's queue, as stored. */
export interface CommandRecord {
  id: string;
  machineId: string;
  kind: CommandKind;
  onSuccess: BootCategory;
  state: CommandState;
  attempts: number;
  /** Kept after completion: a retried result post matches it. */
  leaseId: string | null;
  leaseExpiresAt: string | null;
  /** A lease that ends at a fixed time (a maintenance run's deadline), else null. */
  leaseUntil: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What the installed OS said when it last called home (the target a maintenance swap comes back to). */
export interface InstalledRecord {
  image: string;
  planHash: string;
  os: string | null;
  at: string;
}

export type MachinePatch = Partial<
  Pick<
    Machine,
    | "bootMac"
    | "category"
    | "expected"
    | "inventory"
    | "fingerprint"
    | "plan"
    | "lastSeenAt"
    | "bootPath"
    | "enrollment"
    | "tags"
    | "note"
    | "retired"
  >
>;

export interface MachineRows {
  get(id: string): Promise<Machine | undefined>;
  /** Every machine, first seen first. */
  list(): Promise<Machine[]>;
  /** Every machine as the boot list shows it, first seen first: its inventory's system fields only. */
  summaries(): Promise<MachineSummary[]>;
  /** The machine that last booted from this MAC, if any (the newest when a NIC moved). */
  lastBootedFrom(mac: string): Promise<Machine | undefined>;
  /** Machines with an expected category (the difference list's candidates). */
  withExpected(): Promise<Machine[]>;
  /** How many machines are in each category (absent: none), for the metrics. */
  countByCategory(): Promise<Partial<Record<BootCategory, number>>>;
  insert(machine: Machine): Promise<void>;
  update(id: string, patch: MachinePatch): Promise<void>;
  /**
   * Deletes the machine's row and its whole queue (its step log stays); returns how many of its
   * commands were still queued or leased.
   */
  remove(id: string): Promise<{ commandsRemoved: number }>;
  /** The machine known as `from` becomes `to`, with its step log and its queue (identity merge). */
  rename(from: string, to: string): Promise<void>;
  /**
   * Holds the machine's row for the rest of the transaction, so two servers on one database do not
   * change the same machine at once, and returns it (undefined: no such machine). With `skipLocked`,
   * "busy" when another transaction holds it, instead of waiting.
   */
  lock(id: string, options?: { skipLocked?: boolean }): Promise<Machine | undefined | "busy">;
  installed(id: string): Promise<InstalledRecord | undefined>;
  setInstalled(id: string, installed: InstalledRecord): Promise<void>;
  /** The power settings; `none` when it has none. */
  power(id: string): Promise<PowerSettings>;
  /** False when there is no such machine. */
  setPower(id: string, settings: PowerSettings): Promise<boolean>;
}

export interface NewCommand {
  id: string;
  machineId: string;
  kind: CommandKind;
  onSuccess: BootCategory;
  at: string;
  leaseUntil: string | null;
}

export type CommandPatch = Partial<
  Pick<CommandRecord, "state" | "attempts" | "leaseId" | "leaseExpiresAt" | "error">
> & { updatedAt: string };

export interface CommandRows {
  /** Queued and leased commands, in queue order. */
  pending(machineId: string): Promise<CommandRecord[]>;
  /** Every command of the machine, in queue order. */
  all(machineId: string): Promise<CommandRecord[]>;
  get(machineId: string, commandId: string): Promise<CommandRecord | undefined>;
  insert(command: NewCommand): Promise<void>;
  update(commandId: string, patch: CommandPatch): Promise<void>;
  /** Machines with a queued or leased command of this kind. */
  machinesWithPending(kind: CommandKind): Promise<string[]>;
  /** Machines holding a lease that ran out before `at`. */
  machinesWithExpiredLeases(at: string): Promise<string[]>;
  /** How many commands are leased now, across machines (the metrics' active leases). */
  countLeased(): Promise<number>;
}

export interface LogRows {
  /** Writes one line; returns it as read back (with its seq), for the live events. */
  append(machineId: string, at: string, event: string, data: Record<string, unknown>): Promise<LogEntry>;
  /** The machine's step log, in the order it was written. */
  forMachine(machineId: string): Promise<LogEntry[]>;
}

export interface PolicyRows {
  get(): Promise<StoredPolicy | undefined>;
  /** Replaces the policy text; its version goes up by one (1 for the first). */
  put(source: string, format: PolicyFormat, at: string): Promise<StoredPolicy>;
}

export interface ImageRows {
  bySha(sha256: string): Promise<ImageRecord | undefined>;
  /** The newest image of that name. */
  newestNamed(name: string): Promise<ImageRecord | undefined>;
  /** By name, then age. */
  list(): Promise<ImageRecord[]>;
  /** The image captured from a recipe on a machine of this configuration. */
  captured(recipe: string, fingerprint: string): Promise<ImageRecord | undefined>;
  /** Fails (a unique key) when the sha256, or the captured recipe and fingerprint, are already stored. */
  insert(record: ImageRecord): Promise<void>;
  /** Drops the catalogue row (its captured key with it); false when there was none. */
  remove(sha256: string): Promise<boolean>;
}

/** A captured image's origin while its bytes are still arriving (no capture time yet). */
export type PendingOrigin = Omit<ImageOrigin, "capturedAt">;

export interface UploadRecord {
  id: string;
  name: string;
  format: ImageRecord["format"];
  purpose: ImageRecord["purpose"];
  origin: PendingOrigin;
  received: number;
  state: "open" | "complete";
  image: string | null;
  createdAt: string;
}

export interface UploadRows {
  /** The open upload of this recipe and configuration, if any. */
  openFor(recipe: string, fingerprint: string): Promise<UploadRecord | undefined>;
  /** Fails (a unique key) when one is already open for the same recipe and configuration. */
  insert(record: UploadRecord): Promise<void>;
  get(id: string): Promise<UploadRecord | undefined>;
  setReceived(id: string, received: number, at: string): Promise<void>;
  complete(id: string, image: string, at: string): Promise<void>;
  /** Open uploads with no chunk (nor start) since `before`: abandoned captures, oldest first. */
  idleOpen(before: string): Promise<UploadRecord[]>;
  /** Drops the row (frees its recipe + configuration key); false when there was none. */
  remove(id: string): Promise<boolean>;
}

export type RunPatch = Partial<
  Pick<
    MaintenanceRun,
    | "state"
    | "extraSteps"
    | "report"
    | "power"
    | "runningAt"
    | "lastProgressAt"
    | "reportedAt"
    | "endedAt"
    | "error"
  >
> & { alertedAt?: string };

export interface RunRows {
  get(runId: string): Promise<MaintenanceRun | undefined>;
  /** The machine's unfinished run (rebooting, running, returning, restoring): at most one. */
  active(machineId: string): Promise<MaintenanceRun | undefined>;
  ofCommand(machineId: string, commandId: string): Promise<MaintenanceRun | undefined>;
  latest(machineId: string): Promise<MaintenanceRun | undefined>;
  /** Oldest first; every machine's when `machineId` is undefined. */
  list(machineId?: string): Promise<MaintenanceRun[]>;
  inStates(states: readonly MaintenanceRun["state"][]): Promise<MaintenanceRun[]>;
  /** Failed runs not alerted yet. */
  unalerted(): Promise<MaintenanceRun[]>;
  /** Fails (a unique key) when the machine already has an unfinished run. */
  insert(run: MaintenanceRun): Promise<void>;
  update(runId: string, patch: RunPatch): Promise<void>;
}

export type NewScheduleRow = Omit<MaintenanceSchedule, "lastFiredAt" | "fired">;

export interface ScheduleRows {
  insert(schedule: NewScheduleRow): Promise<void>;
  get(id: string): Promise<MaintenanceSchedule | undefined>;
  list(): Promise<MaintenanceSchedule[]>;
  remove(id: string): Promise<boolean>;
  /** Schedules whose next fire time is at or before `at`, soonest first. */
  due(at: string): Promise<MaintenanceSchedule[]>;
  /**
   * Claims the fire time `expectedNext` of the schedule: moves it to `nextFireAt` and counts the firing.
   * False when another firing claimed it first (the schedule fires once per time).
   */
  claim(id: string, expectedNext: string | null, nextFireAt: string | null, at: string): Promise<boolean>;
}

export interface HealthRows {
  /** Rules latched on the machine (crossed, fired once, waiting for the figure to come back). */
  latched(machineId: string): Promise<string[]>;
  latch(machineId: string, rule: string, at: string): Promise<void>;
  unlatch(machineId: string, rule: string): Promise<void>;
  insertReport(machineId: string, report: StoredHealthReport): Promise<void>;
  /** Drops all but the newest `keep` reports of the machine. */
  trim(machineId: string, keep: number): Promise<void>;
  /** The newest `limit` reports, newest last. */
  history(machineId: string, limit: number): Promise<StoredHealthReport[]>;
}

export interface BootAreaRows {
  put(machineId: string, record: BootAreaRecord): Promise<void>;
  get(machineId: string): Promise<BootAreaRecord | undefined>;
}

export interface BootEventRows {
  append(event: Omit<BootEvent, "seq">): Promise<void>;
  /** Oldest first: the newest `limit`, of one MAC (or of every machine), after `afterSeq` when given. */
  list(query: { mac?: string; limit: number; afterSeq?: number }): Promise<BootEvent[]>;
  /** Drops what happened before `at`; how many went. */
  prune(at: string): Promise<number>;
}

/** A stored API token: its public id, what it may do, and the hash of its secret (never the secret). */
export interface TokenRecord extends TokenInfo {
  secretHash: string;
}

export interface TokenRows {
  insert(token: TokenRecord): Promise<void>;
  get(id: string): Promise<TokenRecord | undefined>;
  /** Every token, oldest first, revoked ones too. */
  list(): Promise<TokenRecord[]>;
  /** False when there is no such token or it was already revoked. */
  revoke(id: string, at: string): Promise<boolean>;
  touch(id: string, at: string): Promise<void>;
  /** Whether any admin token is live (the first start makes one when none is). */
  hasLiveAdmin(): Promise<boolean>;
}

export interface AuditRows {
  append(entry: Omit<AuditEntry, "seq">): Promise<void>;
  /** Oldest first: the newest `limit`, of one target and after a time when given. */
  list(query: { target?: string; since?: string; limit: number }): Promise<AuditEntry[]>;
}

/** A machine's credential: `loader` for the loader and its agents, `os` for the installed OS's calls. */
export interface MachineCredentialRecord {
  id: string;
  machineId: string;
  scope: "loader" | "os";
  secretHash: string;
  createdAt: string;
  /** When an `os` credential was first used (its predecessors stop working then). */
  firstUsedAt: string | null;
  revokedAt: string | null;
}

export interface MachineCredentialRows {
  insert(credential: MachineCredentialRecord): Promise<void>;
  get(id: string): Promise<MachineCredentialRecord | undefined>;
  /** Revokes the machine's live credentials of this scope, but `keep`; how many it revoked. */
  revokeOthers(
    machineId: string,
    scope: MachineCredentialRecord["scope"],
    keep: string | null,
    at: string,
  ): Promise<number>;
  markUsed(id: string, at: string): Promise<void>;
}

export interface SharedUuidRows {
  get(uuid: string): Promise<SharedUuid | undefined>;
  /** Oldest first. */
  list(): Promise<SharedUuid[]>;
  /** A UUID already recorded keeps its first record. */
  insert(shared: SharedUuid): Promise<void>;
}

/** Everything one transaction can touch. */
/** How a release asked the machine's disks to be erased (server/db/tables/releases.ts). */
export interface ReleaseRecord {
  machineId: string;
  erase: EraseMode;
  requestedAt: string;
}

export interface ReleaseRows {
  get(machineId: string): Promise<ReleaseRecord | undefined>;
  /** Inserts or replaces the machine's release request. */
  set(record: ReleaseRecord): Promise<void>;
}

export interface TravelerQuery {
  /** Only travelers changed at or after this time. */
  since?: string;
  failed?: boolean;
}

/** The factory line's travelers (server/db/tables/travelers.ts), one per unit serial. */
export interface TravelerRows {
  get(serial: string): Promise<Traveler | undefined>;
  /** The machine's traveler (the newest, should its serial have changed). */
  ofMachine(machineId: string): Promise<Traveler | undefined>;
  /** First created first. */
  list(query: TravelerQuery): Promise<Traveler[]>;
  /** Inserts or replaces the serial's traveler. */
  put(traveler: Traveler): Promise<void>;
}

export interface StationRows {
  get(): Promise<StoredStation | undefined>;
  put(stored: StoredStation): Promise<void>;
}

export interface Rows {
  machines: MachineRows;
  commands: CommandRows;
  log: LogRows;
  policy: PolicyRows;
  images: ImageRows;
  uploads: UploadRows;
  runs: RunRows;
  schedules: ScheduleRows;
  health: HealthRows;
  bootAreas: BootAreaRows;
  bootEvents: BootEventRows;
  tokens: TokenRows;
  audit: AuditRows;
  credentials: MachineCredentialRows;
  sharedUuids: SharedUuidRows;
  releases: ReleaseRows;
  travelers: TravelerRows;
  station: StationRows;
}

/** Statement-level access in one transaction, for tools that move whole tables (the store copy). */
export interface SqlAccess {
  sqlTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
}

export interface Store extends SqlAccess {
  /** Which engine: "sqlite" or "postgres" (for logs and the copy command). */
  readonly kind: string;
  /**
   * Runs `fn` in one transaction: all of its writes or none. `fn` touches only `rows` (no other I/O),
   * so transactions stay short; a thrown error rolls back and is rethrown.
   */
  transaction<T>(fn: (rows: Rows) => Promise<T>): Promise<T>;
  /**
   * Runs `fn`, which only reads, outside a transaction: each statement sees what was committed when it
   * ran. For the many one-statement reads (a machine, its log, a list), which then cost no BEGIN/COMMIT.
   */
  read<T>(fn: (rows: Rows) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
