// The store interface: every read and write of server state goes through it. Async so a PostgreSQL
// implementation can follow the SQLite one without touching callers (style.md §11). Each method is one
// transaction; the decisions inside them are the pure functions in server/ (reconciler, results).
import type {
  BootCategory,
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
import type { Where } from "../selector.js";

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

export type CompleteOutcome =
  | { kind: "applied"; category: BootCategory }
  | { kind: "duplicate"; category: BootCategory }
  | { kind: "refused"; reason: string };

export interface Store {
  /** iPXE asked for a machine's script: enroll it as `discovered` if new, else note it was seen. */
  recordBootRequest(request: BootRequest): Promise<{ machine: Machine; isNew: boolean }>;
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
  leaseNext(id: string, at: Date, leaseMs: number): Promise<LeasedCommand | undefined>;
  /** Applies a command's result once; a retried post is a duplicate; a stale lease is refused. */
  completeCommand(id: string, commandId: string, result: CommandResult, at: Date): Promise<CompleteOutcome>;
  /** The current policy's text, or undefined before one is set. */
  getPolicy(): Promise<StoredPolicy | undefined>;
  /** Replaces the policy (the caller has validated it); the version goes up by one. */
  setPolicy(source: string, format: PolicyFormat, at: Date): Promise<StoredPolicy>;
  close(): Promise<void>;
}
