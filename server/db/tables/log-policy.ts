// The step log (one row per event, in the order written) and the policy (one row: its text as the
// operator wrote it; version counts changes).
import * as z from "zod";
import { PolicyFormat, type StoredPolicy } from "../../../protocol/index.js";
import { ServerError } from "../../errors.js";
import type { LogEntry, LogRows, PolicyRows } from "../rows.js";
import type { Sql } from "../sql.js";

const LogRow = z.object({
  seq: z.coerce.number(),
  machine_id: z.string(),
  at: z.string(),
  event: z.string(),
  data_json: z.string(),
});

/** Made once: zod compiles an object schema on its first parse, which per call cost ~100 µs a log line. */
const LogData = z.record(z.string(), z.unknown());
const InsertedSeq = z.object({ seq: z.coerce.number() });

const PolicyRow = z.object({
  format: PolicyFormat,
  source: z.string(),
  version: z.coerce.number(),
  updated_at: z.string(),
});

export class LogTable implements LogRows {
  constructor(private readonly sql: Sql) {}

  async append(
    machineId: string,
    at: string,
    event: string,
    data: Record<string, unknown>,
  ): Promise<LogEntry> {
    const text = JSON.stringify(data);
    const row = await this.sql.get(
      "INSERT INTO machine_log (machine_id, at, event, data_json) VALUES (?, ?, ?, ?) RETURNING seq",
      [machineId, at, event, text],
    );
    // The entry as forMachine would read it back: data through JSON, as the wire carries it.
    const copy = LogData.parse(JSON.parse(text));
    return { seq: InsertedSeq.parse(row).seq, machineId, at, event, data: copy };
  }

  async forMachine(machineId: string): Promise<LogEntry[]> {
    const rows = await this.sql.all("SELECT * FROM machine_log WHERE machine_id = ? ORDER BY seq", [
      machineId,
    ]);
    return rows.map((raw) => {
      const row = LogRow.parse(raw);
      const data = LogData.parse(JSON.parse(row.data_json));
      return { seq: row.seq, machineId: row.machine_id, at: row.at, event: row.event, data };
    });
  }
}

export class PolicyTable implements PolicyRows {
  constructor(private readonly sql: Sql) {}

  async get(): Promise<StoredPolicy | undefined> {
    const raw = await this.sql.get("SELECT format, source, version, updated_at FROM policy WHERE id = 1");
    if (raw === undefined) return undefined;
    const row = PolicyRow.parse(raw);
    return { format: row.format, source: row.source, version: row.version, updatedAt: row.updated_at };
  }

  async put(source: string, format: PolicyFormat, at: string): Promise<StoredPolicy> {
    await this.sql.run(
      `INSERT INTO policy (id, format, source, version, updated_at) VALUES (1, ?, ?, 1, ?)
       ON CONFLICT (id) DO UPDATE SET format = excluded.format, source = excluded.source,
         version = policy.version + 1, updated_at = excluded.updated_at`,
      [format, source, at],
    );
    const stored = await this.get();
    if (!stored) throw new ServerError("policy row vanished inside its own transaction");
    return stored;
  }
}
