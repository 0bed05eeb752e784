// The embedded store: SQLite through better-sqlite3, WAL. better-sqlite3 is synchronous and one
// connection serves the whole process, so transactions run one at a time (a queue): a transaction's
// statements never interleave with another's, even across the awaits of the services above.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Rows, Store } from "../rows.js";
import type { Sql, SqlValue } from "../sql.js";
import { rowCaches, rowsOver } from "../tables/rows-over-sql.js";
import { BackgroundCheckpointer } from "./checkpointer.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";

class SqliteSql implements Sql {
  readonly dialect = "sqlite";
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  /** Prepared once per SQL text: preparing costs more than running the small queries here. */
  private statement(text: string): Database.Statement {
    let statement = this.prepared.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.prepared.set(text, statement);
    }
    return statement;
  }

  all(text: string, params: readonly SqlValue[] = []): Promise<unknown[]> {
    return Promise.resolve(this.statement(text).all(...params));
  }

  get(text: string, params: readonly SqlValue[] = []): Promise<unknown> {
    return Promise.resolve(this.statement(text).get(...params));
  }

  run(text: string, params: readonly SqlValue[] = []): Promise<number> {
    return Promise.resolve(this.statement(text).run(...params).changes);
  }
}

export class SqliteStore implements Store {
  readonly kind = "sqlite";
  private readonly rows: Rows;
  private readonly sql: SqliteSql;
  /** The tail of the transaction queue. */
  private queue: Promise<unknown> = Promise.resolve();

  /** Prepared once: BEGIN and COMMIT run twice per queue round trip. */
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;

  private constructor(
    private readonly db: Database.Database,
    private readonly checkpointer: BackgroundCheckpointer | undefined,
  ) {
    this.sql = new SqliteSql(db);
    this.rows = rowsOver(this.sql, rowCaches());
    this.begin = db.prepare("BEGIN IMMEDIATE");
    this.commit = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
  }

  static open(path: string): SqliteStore {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode: a committed change survives a killed process (the kill -9 test); only a
    // power loss can drop the last commits. FULL costs an fsync per commit (measured: ~190 lease+result
    // round trips/s instead of thousands), and an agent re-reports a lost result anyway.
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    migrate(db);
    // A file's WAL is checkpointed by a worker thread (checkpointer.ts); an in-memory database has none.
    return new SqliteStore(db, path === ":memory:" ? undefined : new BackgroundCheckpointer(db, path));
  }

  /** The schema version this file is at (PRAGMA user_version): the number of migrations applied. */
  schemaVersion(): number {
    return Number(this.db.pragma("user_version", { simple: true }));
  }

  transaction<T>(fn: (rows: Rows) => Promise<T>): Promise<T> {
    return this.sqlTransaction(() => fn(this.rows));
  }

  /** In the same queue (a read never sees a transaction half done), without BEGIN and COMMIT. */
  read<T>(fn: (rows: Rows) => Promise<T>): Promise<T> {
    const run = (): Promise<T> => fn(this.rows);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  sqlTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.begin.run();
      try {
        const result = await fn(this.sql);
        this.commit.run();
        return result;
      } catch (err) {
        // SQLite has rolled back already on some errors (SQLITE_FULL): the original error is the one to tell.
        if (this.db.inTransaction) this.rollback.run();
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.checkpointer?.stop();
    this.db.close();
  }
}

/** Applies the migrations this file has not had yet, in one transaction. */
function migrate(db: Database.Database): void {
  const version = Number(db.pragma("user_version", { simple: true }));
  if (version > SQLITE_MIGRATIONS.length)
    throw new Error(
      `the store was written by a newer bootwright (schema ${version}, this one knows ${SQLITE_MIGRATIONS.length})`,
    );
  db.transaction(() => {
    SQLITE_MIGRATIONS.slice(version).forEach((sql, i) => {
      db.exec(sql);
      db.pragma(`user_version = ${version + i + 1}`);
    });
  })();
}
