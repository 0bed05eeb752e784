// The embedded store: SQLite through better-sqlite3, WAL, every change in one transaction.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { BootCategory, Inventory, machineIdentity, type Machine } from "../../protocol/index.js";
import { CATEGORY_AT_FIRST_BOOT, categoryAfterInventory } from "../enrollment.js";
import { ServerError } from "../errors.js";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.js";
import type { BootRequest, LogEntry, Store } from "./store.js";

const MachineRow = z.object({
  id: z.string(),
  boot_mac: z.string(),
  category: BootCategory,
  inventory_json: z.string().nullable(),
  first_seen_at: z.string(),
  last_seen_at: z.string(),
});
type MachineRow = z.infer<typeof MachineRow>;

const LogRow = z.object({
  seq: z.number(),
  machine_id: z.string(),
  at: z.string(),
  event: z.string(),
  data_json: z.string(),
});

/** Rows are a boundary too: a row that no longer parses is reported with its id, not passed on. */
function toMachine(raw: unknown): Machine {
  const row: MachineRow = MachineRow.parse(raw);
  let inventory: Inventory | null = null;
  if (row.inventory_json !== null) {
    const parsed = Inventory.safeParse(JSON.parse(row.inventory_json));
    if (!parsed.success)
      throw new ServerError(`stored inventory of machine ${row.id} does not parse: ${parsed.error.message}`);
    inventory = parsed.data;
  }
  return {
    id: row.id,
    bootMac: row.boot_mac,
    category: row.category,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    inventory,
  };
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;

  private constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
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

  private findById(id: string): Machine | undefined {
    const row: unknown = this.db.prepare("SELECT * FROM machines WHERE id = ?").get(id);
    return row === undefined ? undefined : toMachine(row);
  }

  /**
   * The stored machine with this identity. A machine first known only by its MAC (iPXE or firmware gave
   * no real UUID) that now shows a real one is the same machine: it moves, with its log, to the UUID.
   * A MAC seen before under a different UUID is a different machine (a NIC moved), not merged.
   */
  private findSameMachine(id: string, mac: string, at: string): Machine | undefined {
    const found = this.findById(id);
    if (found || id === mac) return found;
    const byMac = this.findById(mac);
    if (!byMac) return undefined;
    this.db.prepare("UPDATE machines SET id = ? WHERE id = ?").run(id, mac);
    this.db.prepare("UPDATE machine_log SET machine_id = ? WHERE machine_id = ?").run(id, mac);
    this.log(id, at, "identity", { from: mac, to: id });
    return this.findById(id);
  }

  private log(machineId: string, at: string, event: string, data: Record<string, unknown>): void {
    this.db
      .prepare("INSERT INTO machine_log (machine_id, at, event, data_json) VALUES (?, ?, ?, ?)")
      .run(machineId, at, event, JSON.stringify(data));
  }

  recordBootRequest(request: BootRequest): Promise<{ machine: Machine; isNew: boolean }> {
    const at = request.at.toISOString();
    const id = machineIdentity(request.uuid, request.mac);
    return Promise.resolve(
      this.db.transaction(() => {
        const existing = this.findSameMachine(id, request.mac, at);
        if (existing) {
          this.db
            .prepare("UPDATE machines SET boot_mac = ?, last_seen_at = ? WHERE id = ?")
            .run(request.mac, at, id);
          this.log(id, at, "boot-script", { mac: request.mac });
        } else {
          this.db
            .prepare(
              "INSERT INTO machines (id, boot_mac, category, inventory_json, first_seen_at, last_seen_at) VALUES (?, ?, ?, NULL, ?, ?)",
            )
            .run(id, request.mac, CATEGORY_AT_FIRST_BOOT, at, at);
          this.log(id, at, "discovered", { mac: request.mac, uuid: request.uuid, via: "ipxe" });
        }
        return { machine: this.mustFind(id), isNew: !existing };
      })(),
    );
  }

  recordInventory(inventory: Inventory, when: Date): Promise<Machine> {
    const at = when.toISOString();
    const id = machineIdentity(inventory.system.uuid, inventory.bootMac);
    return Promise.resolve(
      this.db.transaction(() => {
        const existing = this.findSameMachine(id, inventory.bootMac, at);
        const category = categoryAfterInventory(existing?.category);
        const json = JSON.stringify(inventory);
        if (existing) {
          this.db
            .prepare(
              "UPDATE machines SET boot_mac = ?, category = ?, inventory_json = ?, last_seen_at = ? WHERE id = ?",
            )
            .run(inventory.bootMac, category, json, at, id);
        } else {
          this.db
            .prepare(
              "INSERT INTO machines (id, boot_mac, category, inventory_json, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .run(id, inventory.bootMac, category, json, at, at);
          this.log(id, at, "discovered", {
            mac: inventory.bootMac,
            uuid: inventory.system.uuid,
            via: "inventory",
          });
        }
        this.log(id, at, "inventory", { from: existing?.category ?? null, to: category });
        return this.mustFind(id);
      })(),
    );
  }

  private mustFind(id: string): Machine {
    const machine = this.findById(id);
    if (!machine) throw new ServerError(`machine ${id} vanished inside its own transaction`);
    return machine;
  }

  listMachines(): Promise<Machine[]> {
    const rows: unknown[] = this.db.prepare("SELECT * FROM machines ORDER BY first_seen_at, id").all();
    return Promise.resolve(rows.map(toMachine));
  }

  getMachine(id: string): Promise<Machine | undefined> {
    return Promise.resolve(this.findById(id));
  }

  machineLog(id: string): Promise<LogEntry[]> {
    const rows: unknown[] = this.db
      .prepare("SELECT * FROM machine_log WHERE machine_id = ? ORDER BY seq")
      .all(id);
    return Promise.resolve(
      rows.map((raw) => {
        const row = LogRow.parse(raw);
        const data = z.record(z.string(), z.unknown()).parse(JSON.parse(row.data_json));
        return { seq: row.seq, machineId: row.machine_id, at: row.at, event: row.event, data };
      }),
    );
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
