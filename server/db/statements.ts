// Prepared statements by SQL text, shared by the embedded store's parts: preparing costs more than
// running the small queries here.
import type Database from "better-sqlite3";

export class Statements {
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  get(text: string): Database.Statement {
    let statement = this.prepared.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.prepared.set(text, statement);
    }
    return statement;
  }
}
