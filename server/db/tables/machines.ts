// The machines table: one row per machine, its inventory, plan, installed target and power settings as
// JSON. Rows are a boundary too: a row that no longer parses is reported with its id, not passed on.
import * as z from "zod";
import {
  BootCategory,
  BootPath,
  EnrollmentState,
  Inventory,
  Machine,
  PowerSettings,
  SystemInfo,
  Tag,
  type MachineSummary,
} from "../../../protocol/index.js";
import { ServerError } from "../../errors.js";
import type { InstalledRecord, MachinePatch, MachineRows } from "../rows.js";
import type { Sql, SqlValue } from "../sql.js";
import type { ParsedColumns } from "./parsed-columns.js";

const MachinePlan = Machine.shape.plan.unwrap();

const CategoryCount = z.object({ category: BootCategory, n: z.coerce.number() });

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
  boot_path: BootPath.nullable(),
  enrollment: EnrollmentState,
  enrollment_reason: z.string().nullable(),
  shared_uuid: z.string().nullable(),
  tags_json: z.string(),
  note: z.string().nullable(),
  retired_at: z.string().nullable(),
  retired_by: z.string().nullable(),
});

const Installed = z.object({
  image: z.string(),
  planHash: z.string(),
  os: z.string().nullable(),
  at: z.string(),
});

const Tags = z.array(Tag);

/** What a machine and its summary share, from the row. */
function commonFields(row: Omit<z.infer<typeof MachineRow>, "plan_json" | "inventory_json">) {
  return {
    id: row.id,
    bootMac: row.boot_mac,
    category: row.category,
    expected: row.expected,
    fingerprint: row.fingerprint,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    bootPath: row.boot_path,
    enrollment: { state: row.enrollment, reason: row.enrollment_reason, sharedUuid: row.shared_uuid },
    tags: Tags.parse(JSON.parse(row.tags_json)),
    note: row.note,
    retired: row.retired_at === null ? null : { at: row.retired_at, by: row.retired_by ?? "(unknown)" },
  };
}

const SummaryRow = MachineRow.omit({ plan_json: true, inventory_json: true }).extend({
  system_json: z.string().nullable(),
});

/** The inventory's `system` object as JSON text, taken out by the database (no 2 KB inventory parsed per row). */
const SYSTEM_JSON = {
  sqlite: "json_extract(inventory_json, '$.system')",
  postgres: "(inventory_json::jsonb -> 'system')::text",
} as const;

const SUMMARY_COLUMNS = Object.keys(SummaryRow.shape).filter((column) => column !== "system_json");

function toSummary(raw: unknown): MachineSummary {
  const row = SummaryRow.parse(raw);
  const system = row.system_json === null ? null : SystemInfo.safeParse(JSON.parse(row.system_json));
  if (system && !system.success)
    throw new ServerError(`stored inventory of machine ${row.id} does not parse: ${system.error.message}`);
  return { ...commonFields(row), inventory: system ? { system: system.data } : null };
}

/** The stored inventory text parsed; a text that no longer parses is reported with the machine's id. */
function parseInventory(id: string, text: string): Inventory {
  const parsed = Inventory.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new ServerError(`stored inventory of machine ${id} does not parse: ${parsed.error.message}`);
  return parsed.data;
}

function toMachine(raw: unknown, inventories: ParsedColumns<Inventory>): Machine {
  const row = MachineRow.parse(raw);
  const inventory =
    row.inventory_json === null
      ? null
      : inventories.get(row.id, row.inventory_json, (text) => parseInventory(row.id, text));
  return {
    ...commonFields(row),
    plan: row.plan_json === null ? null : MachinePlan.parse(JSON.parse(row.plan_json)),
    inventory,
  };
}

const json = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

/** Patch field → column and its stored form (enrollment and retired are several: update() spreads them). */
const COLUMNS: {
  [K in Exclude<keyof MachinePatch, "enrollment" | "retired">]-?: [
    string,
    (value: MachinePatch[K]) => SqlValue,
  ];
} = {
  bootMac: ["boot_mac", (v) => v ?? null],
  category: ["category", (v) => v ?? null],
  expected: ["expected", (v) => v ?? null],
  inventory: ["inventory_json", (v) => json(v ?? null)],
  fingerprint: ["fingerprint", (v) => v ?? null],
  plan: ["plan_json", (v) => json(v ?? null)],
  lastSeenAt: ["last_seen_at", (v) => v ?? null],
  bootPath: ["boot_path", (v) => v ?? null],
  tags: ["tags_json", (v) => JSON.stringify(v ?? [])],
  note: ["note", (v) => v ?? null],
};

export class MachineTable implements MachineRows {
  /** `inventories`: kept across transactions by the store (parsed-columns.ts says why). */
  constructor(
    private readonly sql: Sql,
    private readonly inventories: ParsedColumns<Inventory>,
  ) {}

  private toMachine = (raw: unknown): Machine => toMachine(raw, this.inventories);

  async get(id: string): Promise<Machine | undefined> {
    const row = await this.sql.get("SELECT * FROM machines WHERE id = ?", [id]);
    return row === undefined ? undefined : this.toMachine(row);
  }

  async list(): Promise<Machine[]> {
    return (await this.sql.all("SELECT * FROM machines ORDER BY first_seen_at, id")).map(this.toMachine);
  }

  async summaries(): Promise<MachineSummary[]> {
    const rows = await this.sql.all(
      `SELECT ${SUMMARY_COLUMNS.join(", ")}, ${SYSTEM_JSON[this.sql.dialect]} AS system_json FROM machines ORDER BY first_seen_at, id`,
    );
    return rows.map(toSummary);
  }

  async lastBootedFrom(mac: string): Promise<Machine | undefined> {
    const row = await this.sql.get(
      "SELECT * FROM machines WHERE boot_mac = ? ORDER BY last_seen_at DESC, id LIMIT 1",
      [mac],
    );
    return row === undefined ? undefined : this.toMachine(row);
  }

  async withExpected(): Promise<Machine[]> {
    return (await this.sql.all("SELECT * FROM machines WHERE expected IS NOT NULL ORDER BY id")).map(
      this.toMachine,
    );
  }

  async countByCategory(): Promise<Partial<Record<BootCategory, number>>> {
    const rows = await this.sql.all("SELECT category, COUNT(*) AS n FROM machines GROUP BY category");
    const counts: Partial<Record<BootCategory, number>> = {};
    for (const raw of rows) {
      const row = CategoryCount.parse(raw);
      counts[row.category] = row.n;
    }
    return counts;
  }

  async insert(m: Machine): Promise<void> {
    await this.sql.run(
      `INSERT INTO machines (id, boot_mac, category, expected, fingerprint, plan_json, inventory_json,
                             first_seen_at, last_seen_at, boot_path, enrollment, enrollment_reason,
                             shared_uuid, tags_json, note, retired_at, retired_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        m.id,
        m.bootMac,
        m.category,
        m.expected,
        m.fingerprint,
        json(m.plan),
        json(m.inventory),
        m.firstSeenAt,
        m.lastSeenAt,
        m.bootPath,
        m.enrollment.state,
        m.enrollment.reason,
        m.enrollment.sharedUuid,
        JSON.stringify(m.tags),
        m.note,
        m.retired?.at ?? null,
        m.retired?.by ?? null,
      ],
    );
  }

  async update(id: string, patch: MachinePatch): Promise<void> {
    const sets: string[] = [];
    const params: SqlValue[] = [];
    for (const key of Object.keys(patch) as (keyof MachinePatch)[]) {
      if (key === "enrollment" || key === "retired") continue;
      const [column, stored] = COLUMNS[key] as [string, (value: unknown) => SqlValue];
      sets.push(`${column} = ?`);
      params.push(stored(patch[key]));
    }
    if (patch.enrollment) {
      sets.push("enrollment = ?", "enrollment_reason = ?", "shared_uuid = ?");
      params.push(patch.enrollment.state, patch.enrollment.reason, patch.enrollment.sharedUuid);
    }
    if (patch.retired !== undefined) {
      sets.push("retired_at = ?", "retired_by = ?");
      params.push(patch.retired?.at ?? null, patch.retired?.by ?? null);
    }
    if (sets.length === 0) return;
    await this.sql.run(`UPDATE machines SET ${sets.join(", ")} WHERE id = ?`, [...params, id]);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.sql.run("UPDATE machines SET id = ? WHERE id = ?", [to, from]);
    await this.sql.run("UPDATE machine_log SET machine_id = ? WHERE machine_id = ?", [to, from]);
    await this.sql.run("UPDATE commands SET machine_id = ? WHERE machine_id = ?", [to, from]);
    await this.sql.run("UPDATE machine_credentials SET machine_id = ? WHERE machine_id = ?", [to, from]);
  }

  async remove(id: string): Promise<{ commandsRemoved: number }> {
    // Its queue goes with it (finished commands too: they would otherwise greet the next machine of
    // this id); its step log stays, the history of that hardware.
    const commandsRemoved = await this.sql.run(
      "DELETE FROM commands WHERE machine_id = ? AND state IN ('queued', 'leased')",
      [id],
    );
    await this.sql.run("DELETE FROM commands WHERE machine_id = ?", [id]);
    await this.sql.run("DELETE FROM machines WHERE id = ?", [id]);
    return { commandsRemoved };
  }

  async lock(id: string, options: { skipLocked?: boolean } = {}): Promise<Machine | undefined | "busy"> {
    // SQLite runs one transaction at a time (server/db/sqlite/store.ts): the machine is already ours.
    if (this.sql.dialect === "sqlite") return this.get(id);
    const locked = await this.sql.get(
      `SELECT * FROM machines WHERE id = ? FOR UPDATE${options.skipLocked ? " SKIP LOCKED" : ""}`,
      [id],
    );
    if (locked !== undefined) return this.toMachine(locked);
    if (!options.skipLocked) return undefined;
    // Nothing came back: either no such machine or another transaction holds it.
    return (await this.sql.get("SELECT id FROM machines WHERE id = ?", [id])) === undefined
      ? undefined
      : "busy";
  }

  async installed(id: string): Promise<InstalledRecord | undefined> {
    const row = z
      .object({ installed_json: z.string().nullable() })
      .optional()
      .parse(await this.sql.get("SELECT installed_json FROM machines WHERE id = ?", [id]));
    return row?.installed_json ? Installed.parse(JSON.parse(row.installed_json)) : undefined;
  }

  async setInstalled(id: string, installed: InstalledRecord): Promise<void> {
    await this.sql.run("UPDATE machines SET installed_json = ? WHERE id = ?", [
      JSON.stringify(installed),
      id,
    ]);
  }

  async power(id: string): Promise<PowerSettings> {
    const row = z
      .object({ power_json: z.string().nullable() })
      .optional()
      .parse(await this.sql.get("SELECT power_json FROM machines WHERE id = ?", [id]));
    return row?.power_json ? PowerSettings.parse(JSON.parse(row.power_json)) : { driver: "none" };
  }

  async setPower(id: string, settings: PowerSettings): Promise<boolean> {
    return (
      (await this.sql.run("UPDATE machines SET power_json = ? WHERE id = ?", [
        JSON.stringify(settings),
        id,
      ])) === 1
    );
  }
}
