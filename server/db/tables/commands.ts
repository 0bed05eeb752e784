// The commands table: every machine's command queue in one table, ordered by seq; a leased command
// keeps its lease id after completion, so a retried result post can be matched to it.
import * as z from "zod";
import { BootCategory, CommandKind, CommandState } from "../../../protocol/index.js";
import type { CommandPatch, CommandRecord, CommandRows, NewCommand } from "../rows.js";
import type { Sql, SqlValue } from "../sql.js";

const CommandRow = z.object({
  id: z.string(),
  machine_id: z.string(),
  kind: CommandKind,
  on_success: BootCategory,
  state: CommandState,
  attempts: z.coerce.number(),
  lease_id: z.string().nullable(),
  lease_expires_at: z.string().nullable(),
  lease_until: z.string().nullable(),
  error: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

function toCommand(raw: unknown): CommandRecord {
  const row = CommandRow.parse(raw);
  return {
    id: row.id,
    machineId: row.machine_id,
    kind: row.kind,
    onSuccess: row.on_success,
    state: row.state,
    attempts: row.attempts,
    leaseId: row.lease_id,
    leaseExpiresAt: row.lease_expires_at,
    leaseUntil: row.lease_until,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const COLUMNS: Record<keyof CommandPatch, string> = {
  state: "state",
  attempts: "attempts",
  leaseId: "lease_id",
  leaseExpiresAt: "lease_expires_at",
  error: "error",
  updatedAt: "updated_at",
};

// Schemas made once, not per row: zod compiles an object schema on its first parse.
const MachineIdRow = z.object({ machine_id: z.string() });
const CountRow = z.object({ n: z.coerce.number() });

const machineIds = (rows: unknown[]): string[] => rows.map((raw) => MachineIdRow.parse(raw).machine_id);

export class CommandTable implements CommandRows {
  constructor(private readonly sql: Sql) {}

  async pending(machineId: string): Promise<CommandRecord[]> {
    const rows = await this.sql.all(
      "SELECT * FROM commands WHERE machine_id = ? AND state IN ('queued', 'leased') ORDER BY seq",
      [machineId],
    );
    return rows.map(toCommand);
  }

  async all(machineId: string): Promise<CommandRecord[]> {
    return (await this.sql.all("SELECT * FROM commands WHERE machine_id = ? ORDER BY seq", [machineId])).map(
      toCommand,
    );
  }

  async get(machineId: string, commandId: string): Promise<CommandRecord | undefined> {
    const row = await this.sql.get("SELECT * FROM commands WHERE id = ? AND machine_id = ?", [
      commandId,
      machineId,
    ]);
    return row === undefined ? undefined : toCommand(row);
  }

  async insert(c: NewCommand): Promise<void> {
    await this.sql.run(
      `INSERT INTO commands (id, machine_id, kind, on_success, state, created_at, updated_at, lease_until)
       VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`,
      [c.id, c.machineId, c.kind, c.onSuccess, c.at, c.at, c.leaseUntil],
    );
  }

  async update(commandId: string, patch: CommandPatch): Promise<void> {
    const keys = Object.keys(patch) as (keyof CommandPatch)[];
    const params: SqlValue[] = keys.map((key) => patch[key] ?? null);
    await this.sql.run(
      `UPDATE commands SET ${keys.map((k) => `${COLUMNS[k]} = ?`).join(", ")} WHERE id = ?`,
      [...params, commandId],
    );
  }

  async machinesWithPending(kind: CommandKind): Promise<string[]> {
    return machineIds(
      await this.sql.all(
        "SELECT DISTINCT machine_id FROM commands WHERE kind = ? AND state IN ('queued', 'leased') ORDER BY machine_id",
        [kind],
      ),
    );
  }

  async countLeased(): Promise<number> {
    const row = await this.sql.get("SELECT COUNT(*) AS n FROM commands WHERE state = 'leased'");
    return CountRow.parse(row).n;
  }

  async machinesWithExpiredLeases(at: string): Promise<string[]> {
    return machineIds(
      await this.sql.all(
        "SELECT DISTINCT machine_id FROM commands WHERE state = 'leased' AND lease_expires_at < ? ORDER BY machine_id",
        [at],
      ),
    );
  }
}
