// The boot log's rows: one per DHCP line, TFTP transfer or HTTP boot request, in the order they came.
import * as z from "zod";
import { BootEvent, BootEventSource, MacAddress } from "../../../protocol/index.js";
import type { BootEventRows } from "../rows.js";
import type { Sql, SqlValue } from "../sql.js";

const BootEventRow = z.object({
  seq: z.coerce.number(),
  at: z.string(),
  mac: MacAddress.nullable(),
  address: z.string().nullable(),
  source: BootEventSource,
  event: z.string(),
  detail: z.string(),
});

export class BootEventTable implements BootEventRows {
  constructor(private readonly sql: Sql) {}

  async append(event: Omit<BootEvent, "seq">): Promise<void> {
    await this.sql.run(
      "INSERT INTO boot_events (at, mac, address, source, event, detail) VALUES (?, ?, ?, ?, ?, ?)",
      [event.at, event.mac, event.address, event.source, event.event, event.detail],
    );
  }

  async list(query: { mac?: string; limit: number; afterSeq?: number }): Promise<BootEvent[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (query.mac !== undefined) {
      where.push("mac = ?");
      params.push(query.mac);
    }
    if (query.afterSeq !== undefined) {
      where.push("seq > ?");
      params.push(query.afterSeq);
    }
    const rows = await this.sql.all(
      `SELECT * FROM boot_events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY seq DESC LIMIT ?`,
      [...params, query.limit],
    );
    return rows.map((raw) => BootEvent.parse(BootEventRow.parse(raw))).reverse();
  }

  async prune(at: string): Promise<number> {
    const before = await this.sql.get("SELECT COUNT(*) AS n FROM boot_events WHERE at < ?", [at]);
    await this.sql.run("DELETE FROM boot_events WHERE at < ?", [at]);
    return z.object({ n: z.coerce.number() }).parse(before).n;
  }
}
