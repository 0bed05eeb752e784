// `bootwright store copy --from <store> --to <store>`: moves a site's whole state (machines, step logs,
// queues, the policy and its version, the image catalogue, uploads, maintenance runs, schedules,
// health reports and latches, boot areas, the boot log, API tokens, the audit log, machines' credentials, shared UUIDs, factory travelers and station) from one store to another, e.g. from the embedded SQLite file
// to PostgreSQL. The source is read in one transaction (a consistent snapshot), the destination written
// in one (all or nothing) and must be empty; afterwards every table's row count and a checksum of its
// rows are compared on both sides. The image bytes are files in the data directory: they stay there.
import { createHash } from "node:crypto";
import { BootwrightError } from "../../protocol/index.js";
import type { Store } from "./rows.js";
import type { Sql, SqlValue } from "./sql.js";

/** Every table, parents first, with the columns both engines share and the key that orders its rows. */
const TABLES: readonly { name: string; key: string; serial?: string }[] = [
  { name: "machines", key: "id" },
  { name: "machine_log", key: "seq", serial: "seq" },
  { name: "commands", key: "seq", serial: "seq" },
  { name: "policy", key: "id" },
  { name: "images", key: "sha256" },
  { name: "uploads", key: "id" },
  { name: "maintenance_runs", key: "id" },
  { name: "maintenance_schedules", key: "id" },
  { name: "health_reports", key: "seq", serial: "seq" },
  { name: "health_alerts", key: "machine_id, rule" },
  { name: "boot_areas", key: "machine_id" },
  { name: "boot_events", key: "seq", serial: "seq" },
  { name: "api_tokens", key: "id" },
  { name: "audit_log", key: "seq", serial: "seq" },
  { name: "machine_credentials", key: "id" },
  { name: "shared_uuids", key: "uuid" },
  { name: "release_requests", key: "machine_id" },
  { name: "travelers", key: "serial" },
  { name: "factory_station", key: "id" },
];

/** Columns that exist in one engine's schema only (PostgreSQL numbers images itself). */
const ENGINE_ONLY = new Set(["images.seq"]);

export interface TableCopy {
  table: string;
  rows: number;
  sha256: string;
}

export class StoreCopyError extends BootwrightError<"store_copy_failed"> {
  constructor(message: string, context: { table?: string } = {}) {
    super("store_copy_failed", message, context);
  }
}

type Row = Record<string, unknown>;

async function readTable(sql: Sql, table: (typeof TABLES)[number]): Promise<Row[]> {
  const rows = (await sql.all(`SELECT * FROM ${table.name} ORDER BY ${table.key}`)) as Row[];
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).filter(([column]) => !ENGINE_ONLY.has(`${table.name}.${column}`))),
  );
}

/** Values as both engines hand them back (PostgreSQL's BIGINT comes as a string): compared as text. */
function canonical(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "string") return value;
  throw new StoreCopyError(`unexpected column value ${JSON.stringify(value)}`);
}

function summarize(table: string, rows: Row[]): TableCopy {
  const hash = createHash("sha256");
  for (const row of rows) {
    const columns = Object.keys(row).sort();
    hash.update(JSON.stringify(columns.map((c) => [c, canonical(row[c])])));
    hash.update("\n");
  }
  return { table, rows: rows.length, sha256: hash.digest("hex") };
}

async function snapshot(sql: Sql): Promise<{ table: (typeof TABLES)[number]; rows: Row[] }[]> {
  const out = [];
  for (const table of TABLES) out.push({ table, rows: await readTable(sql, table) });
  return out;
}

/**
 * Every table's rows, read in one transaction (a consistent snapshot): what the copy moves, and what a
 * test compares before and after to show that requests changed nothing.
 */
export async function readStore(store: Store): Promise<{ table: string; rows: Record<string, unknown>[] }[]> {
  const tables = await store.sqlTransaction(snapshot);
  return tables.map(({ table, rows }) => ({ table: table.name, rows }));
}

/** Copies everything; returns what each table holds on both sides (they match, or it throws). */
export async function copyStore(from: Store, to: Store): Promise<TableCopy[]> {
  const source = await from.sqlTransaction(snapshot);
  await to.sqlTransaction(async (sql) => {
    for (const { name } of TABLES) {
      const present = await sql.get(`SELECT 1 AS present FROM ${name} LIMIT 1`);
      if (present !== undefined)
        throw new StoreCopyError(
          `the destination store is not empty (table ${name} has rows): nothing was copied`,
        );
    }
    for (const { table, rows } of source) {
      for (const row of rows) {
        const columns = Object.keys(row);
        await sql.run(
          `INSERT INTO ${table.name} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
          columns.map((c) => canonicalForInsert(row[c])),
        );
      }
      // Explicit values do not move PostgreSQL's sequence: the next insert must come after the copied rows.
      if (table.serial && sql.dialect === "postgres")
        await sql.get(
          `SELECT setval(pg_get_serial_sequence('${table.name}', '${table.serial}'), COALESCE(MAX(${table.serial}), 0) + 1, false) FROM ${table.name}`,
        );
    }
  });
  const copied = await to.sqlTransaction(snapshot);
  const before = source.map(({ table, rows }) => summarize(table.name, rows));
  const after = copied.map(({ table, rows }) => summarize(table.name, rows));
  for (const [i, expected] of before.entries()) {
    const got = after[i];
    if (got?.rows !== expected.rows || got.sha256 !== expected.sha256)
      throw new StoreCopyError(
        `table ${expected.table} differs after the copy: ${expected.rows} rows (sha256 ${expected.sha256.slice(0, 12)}) in the source, ${got?.rows ?? 0} (sha256 ${got?.sha256.slice(0, 12) ?? "-"}) in the destination`,
      );
  }
  return after;
}

function canonicalForInsert(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "number" || typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  throw new StoreCopyError(`unexpected column value ${JSON.stringify(value)}`);
}
