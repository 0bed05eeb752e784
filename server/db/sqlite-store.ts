// The embedded store: SQLite through better-sqlite3, WAL, every operation in one transaction.
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SqliteImageCatalog, type ImageCatalog } from "./image-catalog.js";
import { SqliteUploadCatalog, type UploadCatalog } from "./upload-catalog.js";
import type { MachineWrites, PendingCommand } from "./machine-writes.js";
import { SqliteHealth } from "./sqlite-health.js";
import { SqliteMachineSettings } from "./sqlite-machine-settings.js";
import { SqliteMaintenance } from "./sqlite-maintenance.js";
import { SqliteSchedules } from "./sqlite-schedules.js";
import { Statements } from "./statements.js";
import { z } from "zod";
import {
  BootCategory,
  CommandKind,
  CommandState,
  Inventory,
  machineIdentity,
  PolicyFormat,
  type AgentEvent,
  type CallHome,
  type CallHomeAccepted,
  type CommandResult,
  type Difference,
  type LeasedCommand,
  checkTransition,
  Machine,
  type InstalledMarker,
  type QueuedCommand,
  type StoredPolicy,
} from "../../protocol/index.js";
import { decideResult } from "../command-results.js";
import { bootAnswer, CATEGORY_AT_FIRST_BOOT, categoryAfterInventory } from "../enrollment.js";
import { ServerError } from "../errors.js";
import { configurationFingerprint } from "../fingerprint.js";
import {
  categoryWhileRunning,
  differenceOf,
  leaseMsFor,
  queueChanges,
  reconcile,
  retryOnExpiry,
  type LeaseDurations,
} from "../reconciler.js";
import { parsePolicy } from "../policy/load.js";
import { resolvePolicy } from "../policy/resolve.js";
import { matchesWhere, type Where } from "../selector.js";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.js";
import type { BootAnswer, BootRequest, CompleteOutcome, EventOutcome, LogEntry, Store } from "./store.js";

/** Why a command whose lease ran out fails the machine (when it is not handed out again). */
function expiryError(row: { kind: CommandKind; attempts: number; lease_expires_at: string | null }): string {
  switch (row.kind) {
    case "boot-installed":
      return `the installed system did not call home by ${String(row.lease_expires_at)}: it may not boot (check its console)`;
    case "run-maintenance":
      return `the maintenance image did not report completion by ${String(row.lease_expires_at)}`;
    default:
      return `lease expired ${row.attempts} times: the agent never reported a result`;
  }
}

/** A command whose lease expires this many times is failed: its agent keeps dying on it. */
const MAX_LEASE_ATTEMPTS = 3;

const MachinePlan = Machine.shape.plan.unwrap();

const MachineRow = z.object({
  id: z.string(),
  boot_mac: z.string(),
  category: BootCategory,
  expected: BootCategory.nullable(),
  fingerprint: z.string().nullable(),
  plan_json: z.string().nullable(),
  inventory_json: z.string().nullable(),
  first_seen_at: z.string(),
  last_seen_at: z.string(),
});

const CommandRow = z.object({
  id: z.string(),
  machine_id: z.string(),
  kind: CommandKind,
  on_success: BootCategory,
  state: CommandState,
  attempts: z.number(),
  lease_id: z.string().nullable(),
  lease_expires_at: z.string().nullable(),
  lease_until: z.string().nullable(),
  error: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
type CommandRow = z.infer<typeof CommandRow>;

const PolicyRow = z.object({
  format: PolicyFormat,
  source: z.string(),
  version: z.number(),
  updated_at: z.string(),
});

const LogRow = z.object({
  seq: z.number(),
  machine_id: z.string(),
  at: z.string(),
  event: z.string(),
  data_json: z.string(),
});

/** Rows are a boundary too: a row that no longer parses is reported with its id, not passed on. */
function toMachine(raw: unknown): Machine {
  const row = MachineRow.parse(raw);
  let inventory: Inventory | null = null;
  if (row.inventory_json !== null) {
    const parsed = Inventory.safeParse(JSON.parse(row.inventory_json));
    if (!parsed.success) {
      throw new ServerError(`stored inventory of machine ${row.id} does not parse: ${parsed.error.message}`);
    }
    inventory = parsed.data;
  }
  return {
    id: row.id,
    bootMac: row.boot_mac,
    category: row.category,
    expected: row.expected,
    fingerprint: row.fingerprint,
    plan: row.plan_json === null ? null : MachinePlan.parse(JSON.parse(row.plan_json)),
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    inventory,
  };
}

function toQueuedCommand(row: CommandRow): QueuedCommand {
  return {
    id: row.id,
    machineId: row.machine_id,
    kind: row.kind,
    state: row.state,
    onSuccess: row.on_success,
    attempts: row.attempts,
    leaseExpiresAt: row.lease_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    error: row.error,
  };
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  readonly images: ImageCatalog;
  readonly uploads: UploadCatalog;
  readonly maintenance: SqliteMaintenance;
  readonly schedules: SqliteSchedules;
  readonly health: SqliteHealth;
  readonly settings: SqliteMachineSettings;
  private readonly statements: Statements;

  private constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode: a committed change survives a killed process (the kill -9 test); only a
    // power loss can drop the last commits. FULL costs an fsync per commit (measured: ~190 lease+result
    // round trips/s instead of thousands), and an agent re-reports a lost result anyway.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
    this.statements = new Statements(this.db);
    this.images = new SqliteImageCatalog(this.db);
    this.uploads = new SqliteUploadCatalog(this.db);
    const writes = this.machineWrites();
    this.maintenance = new SqliteMaintenance(this.statements, writes);
    this.schedules = new SqliteSchedules(this.statements, writes, this.maintenance);
    this.health = new SqliteHealth(this.statements, writes);
    this.settings = new SqliteMachineSettings(this.db);
  }

  /** The store's own writes, for the maintenance swap's transactions (machine-writes.ts). */
  private machineWrites(): MachineWrites {
    return {
      find: (id) => this.findById(id),
      all: () => {
        const rows: unknown[] = this.sql("SELECT * FROM machines ORDER BY id").all();
        return rows.map(toMachine);
      },
      log: (machineId, at, event, data) => {
        this.log(machineId, at, event, data);
      },
      setCategory: (machine, category, at, why) => {
        this.setCategory(machine, category, at, why);
      },
      setExpected: (machine, expected, at) => {
        this.setExpectedOne(machine, expected, at);
      },
      fail: (machine, at, why) => {
        this.failMachine(machine, at, why);
      },
      enqueue: (machineId, kind, onSuccess, at, leaseUntil) =>
        this.insertCommand(machineId, { kind, onSuccess }, at, leaseUntil),
      cancel: (machineId, commandId, at) => {
        this.cancelCommand(machineId, commandId, at);
      },
      pending: (machineId) =>
        this.pendingCommands(machineId).map((row): PendingCommand => ({
          id: row.id,
          kind: row.kind,
          state: row.state === "leased" ? "leased" : "queued",
          leaseId: row.lease_id,
          leaseExpiresAt: row.lease_expires_at,
        })),
      lease: (machineId, commandId, when, leaseMs) => {
        const row = this.pendingCommands(machineId).find((r) => r.id === commandId);
        if (row) this.leaseRow(machineId, row, when, leaseMs);
      },
    };
  }

  private sql(text: string): Database.Statement {
    return this.statements.get(text);
  }

  static open(path: string): SqliteStore {
    return new SqliteStore(path);
  }

  private migrate(): void {
    const version = Number(this.db.pragma("user_version", { simple: true }));
    this.db.transaction(() => {
      SQLITE_MIGRATIONS.slice(version).forEach((sql, i) => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${version + i + 1}`);
      });
    })();
  }

  /** Runs `fn` in one transaction and hands its result back as a promise (the Store contract is async). */
  private tx<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(fn)());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private findById(id: string): Machine | undefined {
    const row: unknown = this.sql("SELECT * FROM machines WHERE id = ?").get(id);
    return row === undefined ? undefined : toMachine(row);
  }

  private mustFind(id: string): Machine {
    const machine = this.findById(id);
    if (!machine) throw new ServerError(`machine ${id} vanished inside its own transaction`);
    return machine;
  }

  private log(machineId: string, at: string, event: string, data: Record<string, unknown>): void {
    this.sql("INSERT INTO machine_log (machine_id, at, event, data_json) VALUES (?, ?, ?, ?)").run(
      machineId,
      at,
      event,
      JSON.stringify(data),
    );
  }

  /**
   * The stored machine with this identity. A machine first known only by its MAC (iPXE or firmware gave
   * no real UUID) that now shows a real one is the same machine: it moves, with its log and queue, to
   * the UUID. A MAC seen before under a different UUID is a different machine (a NIC moved), not merged.
   */
  private findSameMachine(id: string, mac: string, at: string): Machine | undefined {
    const found = this.findById(id);
    if (found || id === mac) return found;
    if (!this.findById(mac)) return undefined;
    this.sql("UPDATE machines SET id = ? WHERE id = ?").run(id, mac);
    this.sql("UPDATE machine_log SET machine_id = ? WHERE machine_id = ?").run(id, mac);
    this.sql("UPDATE commands SET machine_id = ? WHERE machine_id = ?").run(id, mac);
    this.log(id, at, "identity", { from: mac, to: id });
    return this.findById(id);
  }

  private setCategory(machine: Machine, category: BootCategory, at: string, why: string): void {
    if (machine.category === category) return;
    this.sql("UPDATE machines SET category = ? WHERE id = ?").run(category, machine.id);
    this.log(machine.id, at, "category", { from: machine.category, to: category, why });
  }

  private pendingCommands(machineId: string): CommandRow[] {
    const rows: unknown[] = this.sql(
      "SELECT * FROM commands WHERE machine_id = ? AND state IN ('queued', 'leased') ORDER BY seq",
    ).all(machineId);
    return rows.map((row) => CommandRow.parse(row));
  }

  /** The plan the stored policy gives this machine, or the reason there is none. */
  private planFromPolicy(
    machine: Machine,
  ): { ok: true; plan: NonNullable<Machine["plan"]>; policyVersion: number } | { ok: false; reason: string } {
    if (!machine.inventory) return { ok: false, reason: "no inventory yet" };
    const stored = this.readPolicy();
    if (!stored) return { ok: false, reason: "no policy is set (bootwright policy set <file>)" };
    const parsed = parsePolicy(stored.source, stored.format);
    if (!parsed.ok)
      return { ok: false, reason: `the stored policy (version ${stored.version}) does not parse` };
    const resolution = resolvePolicy(parsed.policy, machine.inventory);
    if (resolution.kind === "no-policy") {
      return {
        ok: false,
        reason: `no policy rule matches (policy version ${stored.version}): see bootwright policy explain`,
      };
    }
    return {
      ok: true,
      plan: { rule: resolution.rule, planHash: resolution.planHash, plan: resolution.plan },
      policyVersion: stored.version,
    };
  }

  /**
   * The server's own step toward a difference: resolve the stored policy for this machine. A match
   * stores the plan and moves the machine to `planned`; anything else is the reason it cannot move.
   */
  private resolvePlan(machine: Machine, at: string): { ok: true } | { ok: false; reason: string } {
    const resolved = this.planFromPolicy(machine);
    if (!resolved.ok) return resolved;
    const { plan } = resolved;
    this.sql("UPDATE machines SET plan_json = ? WHERE id = ?").run(JSON.stringify(plan), machine.id);
    this.log(machine.id, at, "planned", {
      rule: plan.rule,
      planHash: plan.planHash,
      image: plan.plan.image,
      policyVersion: resolved.policyVersion,
    });
    this.setCategory(machine, "planned", at, `policy rule ${plan.rule}`);
    return { ok: true };
  }

  /**
   * Seed 003 claim 14: a machine whose disk carries the marker of the very plan the policy resolves for
   * it already runs that plan: it becomes `installed` and boots from its disk, with no reinstall.
   */
  private checkInstalledMarker(machine: Machine, marker: InstalledMarker, at: string): void {
    const resolved = this.planFromPolicy(machine);
    if (
      !resolved.ok ||
      resolved.plan.planHash !== marker.planHash ||
      !checkTransition(machine.category, "installed").ok
    ) {
      this.log(machine.id, at, "marker-differs", {
        marker: marker.planHash,
        resolved: resolved.ok ? resolved.plan.planHash : null,
        category: machine.category,
      });
      return;
    }
    this.sql("UPDATE machines SET plan_json = ? WHERE id = ?").run(JSON.stringify(resolved.plan), machine.id);
    this.log(machine.id, at, "already-installed", {
      planHash: marker.planHash,
      image: marker.image,
      partition: marker.partition,
    });
    this.setCategory(machine, "installed", at, "its disk carries the marker of its resolved plan");
    this.setInstalled(machine.id, { image: marker.image, planHash: marker.planHash, os: null, at });
  }

  private setInstalled(
    machineId: string,
    installed: { image: string; planHash: string; os: string | null; at: string },
  ): void {
    this.sql("UPDATE machines SET installed_json = ? WHERE id = ?").run(JSON.stringify(installed), machineId);
  }

  private cancelCommand(machineId: string, commandId: string, at: string): void {
    this.sql("UPDATE commands SET state = 'cancelled', updated_at = ? WHERE id = ?").run(at, commandId);
    this.log(machineId, at, "command-cancelled", { command: commandId });
  }

  /** The pending commands the reconciler owns: a maintenance swap queues and ends its run-maintenance itself. */
  private reconciledCommands(machineId: string): CommandRow[] {
    return this.pendingCommands(machineId).filter((row) => row.kind !== "run-maintenance");
  }

  private insertCommand(
    machineId: string,
    command: { kind: CommandKind; onSuccess: BootCategory },
    at: string,
    leaseUntil?: string,
  ): string {
    const commandId = randomUUID();
    this.sql(
      "INSERT INTO commands (id, machine_id, kind, on_success, state, created_at, updated_at, lease_until) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
    ).run(commandId, machineId, command.kind, command.onSuccess, at, at, leaseUntil ?? null);
    this.log(machineId, at, "command-queued", {
      command: commandId,
      kind: command.kind,
      onSuccess: command.onSuccess,
    });
    return commandId;
  }

  /** Brings one machine's queue in line with its difference (pure decision in reconciler.ts). */
  private reconcileMachine(id: string, at: string): void {
    const machine = this.mustFind(id);
    const difference = differenceOf(machine);
    if (difference?.commands[0]?.kind === "resolve-policy") {
      const planned = this.resolvePlan(machine, at);
      if (planned.ok) {
        this.reconcileMachine(id, at);
        return;
      }
      for (const row of this.reconciledCommands(id)) this.cancelCommand(id, row.id, at);
      this.log(id, at, "difference-blocked", { expected: difference.expected, reason: planned.reason });
      return;
    }
    const pending = this.reconciledCommands(id).map((row) => ({
      id: row.id,
      kind: row.kind,
      onSuccess: row.on_success,
    }));
    const { cancel, enqueue } = queueChanges(difference, pending);
    for (const commandId of cancel) this.cancelCommand(id, commandId, at);
    for (const command of enqueue) this.insertCommand(id, command, at);
    if (difference?.blocked && (cancel.length > 0 || enqueue.length > 0 || pending.length === 0)) {
      this.log(id, at, "difference-blocked", { expected: difference.expected, reason: difference.blocked });
    }
  }

  /** The machine's leased command waiting for its installed OS to call home, if any. */
  private awaitingCallHome(id: string): CommandRow | undefined {
    return this.pendingCommands(id).find((row) => row.state === "leased" && row.kind === "boot-installed");
  }

  recordBootRequest(request: BootRequest): Promise<BootAnswer> {
    const at = request.at.toISOString();
    const id = machineIdentity(request.uuid, request.mac);
    return this.tx(() => {
      const existing = this.findSameMachine(id, request.mac, at);
      let answer: BootAnswer["answer"] = "loader";
      if (existing) {
        answer = bootAnswer(existing.category, this.awaitingCallHome(id) !== undefined);
        this.sql("UPDATE machines SET boot_mac = ?, last_seen_at = ? WHERE id = ?").run(request.mac, at, id);
        this.log(id, at, "boot-script", { mac: request.mac, answer });
      } else {
        this.sql(
          "INSERT INTO machines (id, boot_mac, category, inventory_json, first_seen_at, last_seen_at) VALUES (?, ?, ?, NULL, ?, ?)",
        ).run(id, request.mac, CATEGORY_AT_FIRST_BOOT, at, at);
        this.log(id, at, "discovered", { mac: request.mac, uuid: request.uuid, via: "ipxe" });
      }
      return { machine: this.mustFind(id), isNew: !existing, answer };
    });
  }

  recordInventory(inventory: Inventory, when: Date): Promise<Machine> {
    const at = when.toISOString();
    const id = machineIdentity(inventory.system.uuid, inventory.bootMac);
    return this.tx(() => {
      const existing = this.findSameMachine(id, inventory.bootMac, at);
      const category = categoryAfterInventory(existing?.category);
      const json = JSON.stringify(inventory);
      const fingerprint = configurationFingerprint(inventory);
      if (existing) {
        this.sql(
          "UPDATE machines SET boot_mac = ?, category = ?, inventory_json = ?, fingerprint = ?, last_seen_at = ? WHERE id = ?",
        ).run(inventory.bootMac, category, json, fingerprint, at, id);
      } else {
        this.sql(
          "INSERT INTO machines (id, boot_mac, category, inventory_json, fingerprint, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ).run(id, inventory.bootMac, category, json, fingerprint, at, at);
        this.log(id, at, "discovered", {
          mac: inventory.bootMac,
          uuid: inventory.system.uuid,
          via: "inventory",
        });
      }
      this.log(id, at, "inventory", { from: existing?.category ?? null, to: category });
      const run = this.maintenance.activeRun(id);
      // In maintenance the loader is the maintenance environment: its disk's marker changes nothing.
      if (run) this.log(id, at, "maintenance-image-booted", { run: run.id, state: run.state });
      else if (inventory.installedMarker)
        this.checkInstalledMarker(this.mustFind(id), inventory.installedMarker, at);
      this.reconcileMachine(id, at);
      return this.mustFind(id);
    });
  }

  listMachines(): Promise<Machine[]> {
    const rows: unknown[] = this.sql("SELECT * FROM machines ORDER BY first_seen_at, id").all();
    return Promise.resolve(rows.map(toMachine));
  }

  getMachine(id: string): Promise<Machine | undefined> {
    return Promise.resolve(this.findById(id));
  }

  machineLog(id: string): Promise<LogEntry[]> {
    const rows: unknown[] = this.sql("SELECT * FROM machine_log WHERE machine_id = ? ORDER BY seq").all(id);
    return Promise.resolve(
      rows.map((raw) => {
        const row = LogRow.parse(raw);
        const data = z.record(z.string(), z.unknown()).parse(JSON.parse(row.data_json));
        return { seq: row.seq, machineId: row.machine_id, at: row.at, event: row.event, data };
      }),
    );
  }

  private setExpectedOne(machine: Machine, expected: BootCategory | null, at: string): void {
    this.sql("UPDATE machines SET expected = ? WHERE id = ?").run(expected, machine.id);
    this.log(machine.id, at, "expected", { from: machine.expected, to: expected, current: machine.category });
    this.reconcileMachine(machine.id, at);
  }

  setExpected(id: string, expected: BootCategory | null, when: Date): Promise<Machine | undefined> {
    const at = when.toISOString();
    return this.tx(() => {
      const machine = this.findById(id);
      if (!machine) return undefined;
      this.setExpectedOne(machine, expected, at);
      return this.mustFind(id);
    });
  }

  setExpectedWhere(where: Where, expected: BootCategory | null, when: Date): Promise<string[]> {
    const at = when.toISOString();
    return this.tx(() => {
      const rows: unknown[] = this.sql("SELECT * FROM machines ORDER BY id").all();
      const matching = rows.map(toMachine).filter((machine) => matchesWhere(machine, where));
      for (const machine of matching) this.setExpectedOne(machine, expected, at);
      return matching.map((machine) => machine.id);
    });
  }

  differences(): Promise<Difference[]> {
    const rows: unknown[] = this.sql("SELECT * FROM machines WHERE expected IS NOT NULL").all();
    return Promise.resolve(reconcile(rows.map(toMachine)));
  }

  machineQueue(id: string): Promise<QueuedCommand[]> {
    const rows: unknown[] = this.sql("SELECT * FROM commands WHERE machine_id = ? ORDER BY seq").all(id);
    return Promise.resolve(rows.map((row) => toQueuedCommand(CommandRow.parse(row))));
  }

  /** Hands expired leases back to the queue; a command that keeps losing its agent fails the machine. */
  private expireLeases(id: string, at: string): void {
    for (const row of this.pendingCommands(id)) {
      if (row.state !== "leased" || row.lease_expires_at === null || row.lease_expires_at >= at) continue;
      if (row.attempts >= MAX_LEASE_ATTEMPTS || !retryOnExpiry(row.kind)) {
        const error = expiryError(row);
        this.sql("UPDATE commands SET state = 'failed', error = ?, updated_at = ? WHERE id = ?").run(
          error,
          at,
          row.id,
        );
        this.log(id, at, "command-failed", { command: row.id, kind: row.kind, error });
        this.failMachine(this.mustFind(id), at, error);
      } else {
        this.sql("UPDATE commands SET state = 'queued', updated_at = ? WHERE id = ?").run(at, row.id);
        this.log(id, at, "lease-expired", {
          command: row.id,
          kind: row.kind,
          lease: row.lease_id,
          attempts: row.attempts,
        });
      }
    }
  }

  expireLeasesDue(when: Date): Promise<string[]> {
    const at = when.toISOString();
    return this.tx(() => {
      const rows: unknown[] = this.sql(
        "SELECT DISTINCT machine_id FROM commands WHERE state = 'leased' AND lease_expires_at < ?",
      ).all(at);
      const ids = rows.map((raw) => z.object({ machine_id: z.string() }).parse(raw).machine_id);
      for (const id of ids) this.expireLeases(id, at);
      return ids;
    });
  }

  private failMachine(machine: Machine, at: string, why: string): void {
    this.setCategory(machine, "failed", at, why);
    this.maintenance.onMachineFailed(machine.id, at, why);
    // Clearing the expectation stops the reconciler from retrying in a loop: the operator decides.
    this.sql("UPDATE machines SET expected = NULL WHERE id = ?").run(machine.id);
    this.reconcileMachine(machine.id, at);
  }

  leaseNext(id: string, when: Date, durations: LeaseDurations): Promise<LeasedCommand | undefined> {
    const at = when.toISOString();
    return this.tx(() => {
      this.expireLeases(id, at);
      const pending = this.pendingCommands(id);
      const next = pending[0];
      if (!next || next.state === "leased") return undefined; // nothing to do, or its agent is still on it
      const { leaseId, expiresAt, leaseMs } = this.leaseRow(id, next, when, leaseMsFor(next.kind, durations));
      const running = categoryWhileRunning(next.kind);
      if (running) this.setCategory(this.mustFind(id), running, at, `${next.kind} started`);
      if (next.kind === "run-maintenance") this.maintenance.onLeased(id, next.id, at);
      // The agent must finish within 80% of the lease, leaving the rest for posting the result.
      return {
        id: next.id,
        kind: next.kind,
        leaseId,
        leaseExpiresAt: expiresAt,
        timeoutMs: Math.max(1, Math.floor(leaseMs * 0.8)),
      };
    });
  }

  /** Leases one command: for `leaseMs`, or until its fixed end (a maintenance run's deadline). */
  private leaseRow(
    machineId: string,
    row: CommandRow,
    when: Date,
    leaseMs: number,
  ): { leaseId: string; expiresAt: string; leaseMs: number } {
    const at = when.toISOString();
    const leaseId = randomUUID();
    const expiresAt = row.lease_until ?? new Date(when.getTime() + leaseMs).toISOString();
    this.sql(
      "UPDATE commands SET state = 'leased', lease_id = ?, lease_expires_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?",
    ).run(leaseId, expiresAt, at, row.id);
    this.log(machineId, at, "command-leased", { command: row.id, kind: row.kind, lease: leaseId, expiresAt });
    return { leaseId, expiresAt, leaseMs: Math.max(1, Date.parse(expiresAt) - when.getTime()) };
  }

  completeCommand(
    id: string,
    commandId: string,
    result: CommandResult,
    when: Date,
  ): Promise<CompleteOutcome> {
    const at = when.toISOString();
    return this.tx((): CompleteOutcome => {
      const raw: unknown = this.sql("SELECT * FROM commands WHERE id = ? AND machine_id = ?").get(
        commandId,
        id,
      );
      const machine = this.findById(id);
      if (raw === undefined || !machine)
        return { kind: "refused", reason: `machine ${id} has no command ${commandId}` };
      const row = CommandRow.parse(raw);
      const decision = decideResult(
        {
          id: row.id,
          kind: row.kind,
          state: row.state,
          onSuccess: row.on_success,
          leaseId: row.lease_id,
          leaseExpiresAt: row.lease_expires_at,
        },
        machine.category,
        result,
        when,
      );
      switch (decision.kind) {
        case "refuse":
          this.log(id, at, "command-result-refused", {
            command: commandId,
            lease: result.leaseId,
            reason: decision.reason,
          });
          return { kind: "refused", reason: decision.reason };
        case "duplicate":
          this.log(id, at, "command-result-duplicate", { command: commandId, lease: result.leaseId });
          return { kind: "duplicate", category: machine.category };
        case "apply":
          break;
      }
      this.sql("UPDATE commands SET state = ?, error = ?, updated_at = ? WHERE id = ?").run(
        decision.state,
        decision.error,
        at,
        commandId,
      );
      this.log(id, at, `command-${decision.state}`, {
        command: commandId,
        kind: row.kind,
        ...(decision.error ? { error: decision.error } : {}),
        ...(result.outcome === "succeeded" && result.output.kind === "check-disks"
          ? { disks: result.output.disks }
          : {}),
      });
      // Each step of a tailored agent gets its own line in the machine's step log, with its timing.
      if (
        result.outcome === "succeeded" &&
        (result.output.kind === "run-agent" || result.output.kind === "write-image")
      ) {
        for (const step of result.output.steps)
          this.log(id, at, "agent-step", { agent: result.output.sha256, ...step });
      }
      if (decision.inventory) {
        this.sql(
          "UPDATE machines SET inventory_json = ?, fingerprint = ?, last_seen_at = ? WHERE id = ?",
        ).run(JSON.stringify(decision.inventory), configurationFingerprint(decision.inventory), at, id);
      }
      if (decision.clearExpected) this.failMachine(machine, at, decision.error ?? "command failed");
      else {
        this.setCategory(machine, decision.category, at, `${row.kind} succeeded`);
        this.reconcileMachine(id, at);
        if (result.outcome === "succeeded" && result.output.kind === "run-maintenance")
          this.maintenance.onReport(id, commandId, result.output.report, at);
      }
      return { kind: "applied", category: this.mustFind(id).category };
    });
  }

  machinesWithPending(kind: CommandKind): Promise<string[]> {
    const rows: unknown[] = this.sql(
      "SELECT DISTINCT machine_id FROM commands WHERE kind = ? AND state IN ('queued', 'leased')",
    ).all(kind);
    return Promise.resolve(rows.map((raw) => z.object({ machine_id: z.string() }).parse(raw).machine_id));
  }

  recordAgentEvent(id: string, event: AgentEvent, when: Date): Promise<EventOutcome> {
    const at = when.toISOString();
    return this.tx((): EventOutcome => {
      const machine = this.findById(id);
      const row = this.pendingCommands(id).find((r) => r.id === event.commandId);
      if (!machine || row?.state !== "leased" || row.lease_id !== event.leaseId)
        return {
          kind: "refused",
          reason: `command ${event.commandId} of machine ${id} is not leased under ${event.leaseId}`,
        };
      // The recipe's script and the capture: the boot list shows the machine `capturing` meanwhile.
      if (event.event === "step-started" && event.plugin === "recipe-capture")
        this.setCategory(machine, "capturing", at, `recipe-capture/${event.step} started`);
      this.log(id, at, `agent-${event.event}`, {
        command: row.id,
        plugin: event.plugin,
        step: event.step,
        message: event.message,
        ...event.data,
      });
      return { kind: "recorded", category: machine.category };
    });
  }

  recordCallHome(id: string, call: CallHome, when: Date): Promise<CallHomeAccepted> {
    const at = when.toISOString();
    return this.tx((): CallHomeAccepted => {
      const machine = this.mustFind(id);
      const matchesPlan = machine.plan?.planHash === call.planHash;
      const waiting = this.awaitingCallHome(id);
      this.log(id, at, "called-home", { ...call, matchesPlan, completesInstall: waiting !== undefined });
      // What it runs: the original target a maintenance swap comes back to.
      this.setInstalled(id, { image: call.image, planHash: call.planHash, os: call.os, at });
      if (!waiting) return { category: machine.category, completedInstall: false };
      this.sql("UPDATE commands SET state = 'succeeded', updated_at = ? WHERE id = ?").run(at, waiting.id);
      this.log(id, at, "command-succeeded", { command: waiting.id, kind: waiting.kind });
      this.setCategory(machine, waiting.on_success, at, `its installed OS called home (${call.os})`);
      this.maintenance.onCallHome(id, call, at);
      this.reconcileMachine(id, at);
      return { category: this.mustFind(id).category, completedInstall: true };
    });
  }

  private readPolicy(): StoredPolicy | undefined {
    const raw: unknown = this.sql(
      "SELECT format, source, version, updated_at FROM policy WHERE id = 1",
    ).get();
    if (raw === undefined) return undefined;
    const row = PolicyRow.parse(raw);
    return { format: row.format, source: row.source, version: row.version, updatedAt: row.updated_at };
  }

  getPolicy(): Promise<StoredPolicy | undefined> {
    return Promise.resolve(this.readPolicy());
  }

  setPolicy(source: string, format: PolicyFormat, when: Date): Promise<StoredPolicy> {
    const at = when.toISOString();
    return this.tx(() => {
      this.sql(
        `INSERT INTO policy (id, format, source, version, updated_at) VALUES (1, ?, ?, 1, ?)
         ON CONFLICT (id) DO UPDATE SET format = excluded.format, source = excluded.source,
           version = version + 1, updated_at = excluded.updated_at`,
      ).run(format, source, at);
      const stored = this.readPolicy();
      if (!stored) throw new ServerError("policy row vanished inside its own transaction");
      return stored;
    });
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
