// What the row classes (server/db/tables/) need of a database: run one statement with its parameters
// inside the current transaction. SQLite and PostgreSQL each provide it; the statements are written once,
// with `?` placeholders (PostgreSQL's adapter numbers them), in the SQL both engines speak.
export type SqlValue = string | number | null;

export interface Sql {
  readonly dialect: "sqlite" | "postgres";
  all(text: string, params?: readonly SqlValue[]): Promise<unknown[]>;
  get(text: string, params?: readonly SqlValue[]): Promise<unknown>;
  /** Returns how many rows the statement changed. */
  run(text: string, params?: readonly SqlValue[]): Promise<number>;
}

/** `?` → `$1`, `$2`, … (our statements hold no `?` inside string literals). */
export function numberedPlaceholders(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}
