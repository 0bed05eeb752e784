// The PostgreSQL store: `pg` with a pool, one connection per transaction, READ COMMITTED with row locks
// (a machine's row is held for the transaction that changes it; leases skip a machine another server
// holds: FOR UPDATE SKIP LOCKED), so several servers can share one database. Migrations run at start,
// under an advisory lock, so servers starting together migrate once.
import { createHash } from "node:crypto";
import pg from "pg";
import type { Rows, Store } from "../rows.js";
import { numberedPlaceholders, type Sql, type SqlValue } from "../sql.js";
import { rowCaches, rowsOver } from "../tables/rows-over-sql.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";

/** Any number: it only has to be the same for every bootwright server on the database. */
const MIGRATION_LOCK = 0x626f6f74; // "boot"

/**
 * Each statement's PostgreSQL text and name, worked out once per process: a named statement is prepared
 * once per connection and reused (the queries here are small and many), and hashing its text on every
 * call cost as much as a tenth of a request. The statements are a fixed set written in the code.
 */
const prepared = new Map<string, { name: string; text: string }>();

function preparedStatement(text: string): { name: string; text: string } {
  let statement = prepared.get(text);
  if (!statement) {
    const numbered = numberedPlaceholders(text);
    statement = { name: createHash("sha1").update(numbered).digest("hex").slice(0, 24), text: numbered };
    if (prepared.size >= 10_000) prepared.clear(); // a bound, should statements ever be built from data
    prepared.set(text, statement);
  }
  return statement;
}

class PgSql implements Sql {
  readonly dialect = "postgres";

  constructor(private readonly client: pg.PoolClient) {}

  private async query(text: string, params: readonly SqlValue[]): Promise<pg.QueryResult> {
    return this.client.query({ ...preparedStatement(text), values: [...params] });
  }

  async all(text: string, params: readonly SqlValue[] = []): Promise<unknown[]> {
    return (await this.query(text, params)).rows as unknown[];
  }

  async get(text: string, params: readonly SqlValue[] = []): Promise<unknown> {
    return ((await this.query(text, params)).rows as unknown[])[0];
  }

  async run(text: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.query(text, params)).rowCount ?? 0;
  }
}

export class PgStore implements Store {
  readonly kind = "postgres";

  private readonly caches = rowCaches();

  private constructor(private readonly pool: pg.Pool) {}

  /** Connects (a postgres:// URL, or libpq-style settings with host= a socket directory) and migrates. */
  static async open(connection: string | pg.PoolConfig, poolSize = 10): Promise<PgStore> {
    const config: pg.PoolConfig =
      typeof connection === "string"
        ? { connectionString: connection, max: poolSize }
        : { max: poolSize, ...connection };
    const pool = new pg.Pool(config);
    // An idle connection the server dropped (a restart) is an event, not a crash of ours.
    pool.on("error", () => undefined);
    const store = new PgStore(pool);
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query("CREATE TABLE IF NOT EXISTS bootwright_schema (version INTEGER NOT NULL)");
      const rows = (await client.query("SELECT version FROM bootwright_schema")).rows as {
        version: number;
      }[];
      const version = rows[0]?.version ?? 0;
      if (version > POSTGRES_MIGRATIONS.length)
        throw new Error(
          `the store was written by a newer bootwright (schema ${version}, this one knows ${POSTGRES_MIGRATIONS.length})`,
        );
      for (const sql of POSTGRES_MIGRATIONS.slice(version)) await client.query(sql);
      if (rows.length === 0)
        await client.query("INSERT INTO bootwright_schema (version) VALUES ($1)", [
          POSTGRES_MIGRATIONS.length,
        ]);
      else await client.query("UPDATE bootwright_schema SET version = $1", [POSTGRES_MIGRATIONS.length]);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async schemaVersion(): Promise<number> {
    const rows = (await this.pool.query("SELECT version FROM bootwright_schema")).rows as {
      version: number;
    }[];
    return rows[0]?.version ?? 0;
  }

  transaction<T>(fn: (rows: Rows) => Promise<T>): Promise<T> {
    return this.sqlTransaction((sql) => fn(rowsOver(sql, this.caches)));
  }

  async read<T>(fn: (rows: Rows) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn(rowsOver(new PgSql(client), this.caches));
    } finally {
      client.release();
    }
  }

  async sqlTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let healthy = true;
    try {
      await client.query("BEGIN");
      const result = await fn(new PgSql(client));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {
        healthy = false; // the connection is gone: do not hand it to the next transaction
      });
      throw err;
    } finally {
      client.release(!healthy);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
