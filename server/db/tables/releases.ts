// Release requests (issue 18): how an operator asked a machine's disks to be erased when it was
// released. One row per machine being (or last) released; the erase-disks lease reads it.
import * as z from "zod";
import { EraseMode } from "../../../protocol/index.js";
import type { ReleaseRecord, ReleaseRows } from "../rows.js";
import type { Sql } from "../sql.js";

const ReleaseRow = z.object({ machine_id: z.string(), erase: EraseMode, requested_at: z.string() });

export class ReleaseTable implements ReleaseRows {
  constructor(private readonly sql: Sql) {}

  async get(machineId: string): Promise<ReleaseRecord | undefined> {
    const raw = await this.sql.get("SELECT * FROM release_requests WHERE machine_id = ?", [machineId]);
    if (raw === undefined) return undefined;
    const row = ReleaseRow.parse(raw);
    return { machineId: row.machine_id, erase: row.erase, requestedAt: row.requested_at };
  }

  async set(record: ReleaseRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO release_requests (machine_id, erase, requested_at) VALUES (?, ?, ?)
       ON CONFLICT (machine_id) DO UPDATE SET erase = excluded.erase, requested_at = excluded.requested_at`,
      [record.machineId, record.erase, record.requestedAt],
    );
  }
}
