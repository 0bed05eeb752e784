// SMBIOS UUIDs seen on more than one machine (issue 17): they identify none of them, so enrollment
// and boot requests carrying one use the boot MAC instead. One row per UUID, kept for good.
import * as z from "zod";
import type { SharedUuid } from "../../../protocol/index.js";
import type { SharedUuidRows } from "../rows.js";
import type { Sql } from "../sql.js";

const SharedUuidRow = z.object({ uuid: z.string(), machines_json: z.string(), noticed_at: z.string() });

function toSharedUuid(raw: unknown): SharedUuid {
  const row = SharedUuidRow.parse(raw);
  return {
    uuid: row.uuid,
    machines: z.array(z.string()).parse(JSON.parse(row.machines_json)),
    noticedAt: row.noticed_at,
  };
}

export class SharedUuidTable implements SharedUuidRows {
  constructor(private readonly sql: Sql) {}

  async get(uuid: string): Promise<SharedUuid | undefined> {
    const raw = await this.sql.get("SELECT * FROM shared_uuids WHERE uuid = ?", [uuid]);
    return raw === undefined ? undefined : toSharedUuid(raw);
  }

  async list(): Promise<SharedUuid[]> {
    return (await this.sql.all("SELECT * FROM shared_uuids ORDER BY noticed_at, uuid")).map(toSharedUuid);
  }

  async insert(shared: SharedUuid): Promise<void> {
    await this.sql.run(
      `INSERT INTO shared_uuids (uuid, machines_json, noticed_at) VALUES (?, ?, ?)
       ON CONFLICT (uuid) DO NOTHING`,
      [shared.uuid, JSON.stringify(shared.machines), shared.noticedAt],
    );
  }
}
