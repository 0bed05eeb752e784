// The factory line's rows (issue 22): travelers, one per unit's serial, written whole (insert or replace)
// in the transaction that moves the unit; and the one station the line runs.
import * as z from "zod";
import { StationFile, Traveler, type StoredStation } from "../../../protocol/index.js";
import type { StationRows, TravelerQuery, TravelerRows } from "../rows.js";
import type { Sql, SqlValue } from "../sql.js";

const TravelerRow = z.object({ doc_json: z.string() });
const StationRow = z.object({
  source: z.string(),
  format: z.enum(["yaml", "json"]),
  station_json: z.string(),
  set_at: z.string(),
});

const parse = (raw: unknown): Traveler => Traveler.parse(JSON.parse(TravelerRow.parse(raw).doc_json));

export class TravelerTable implements TravelerRows {
  constructor(private readonly sql: Sql) {}

  async get(serial: string): Promise<Traveler | undefined> {
    const raw = await this.sql.get("SELECT doc_json FROM travelers WHERE serial = ?", [serial]);
    return raw === undefined ? undefined : parse(raw);
  }

  async ofMachine(machineId: string): Promise<Traveler | undefined> {
    const raw = await this.sql.get(
      "SELECT doc_json FROM travelers WHERE machine_id = ? ORDER BY updated_at DESC LIMIT 1",
      [machineId],
    );
    return raw === undefined ? undefined : parse(raw);
  }

  async list(query: TravelerQuery): Promise<Traveler[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (query.since !== undefined) {
      where.push("updated_at >= ?");
      params.push(query.since);
    }
    if (query.failed) where.push("state = 'failed'");
    const rows = await this.sql.all(
      `SELECT doc_json FROM travelers ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at, serial`,
      params,
    );
    return rows.map(parse);
  }

  async put(traveler: Traveler): Promise<void> {
    await this.sql.run(
      `INSERT INTO travelers (serial, machine_id, station, state, stage, doc_json, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (serial) DO UPDATE SET machine_id = excluded.machine_id, station = excluded.station,
         state = excluded.state, stage = excluded.stage, doc_json = excluded.doc_json,
         updated_at = excluded.updated_at`,
      [
        traveler.serial,
        traveler.machineId,
        traveler.station,
        traveler.state,
        traveler.stage,
        JSON.stringify(traveler),
        traveler.createdAt,
        traveler.updatedAt,
      ],
    );
  }
}

export class StationTable implements StationRows {
  constructor(private readonly sql: Sql) {}

  async get(): Promise<StoredStation | undefined> {
    const raw = await this.sql.get(
      "SELECT source, format, station_json, set_at FROM factory_station WHERE id = 1",
    );
    if (raw === undefined) return undefined;
    const row = StationRow.parse(raw);
    return {
      station: StationFile.parse(JSON.parse(row.station_json)),
      source: row.source,
      format: row.format,
      setAt: row.set_at,
    };
  }

  async put(stored: StoredStation): Promise<void> {
    await this.sql.run(
      `INSERT INTO factory_station (id, source, format, station_json, set_at) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET source = excluded.source, format = excluded.format,
         station_json = excluded.station_json, set_at = excluded.set_at`,
      [stored.source, stored.format, JSON.stringify(stored.station), stored.setAt],
    );
  }
}
