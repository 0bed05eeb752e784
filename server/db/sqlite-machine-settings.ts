// Per-machine settings the maintenance swap needs: the power driver, and the boot area recorded at
// install (its bytes are a file: server/maintenance/boot-areas.ts; this is what they are).
import type Database from "better-sqlite3";
import { z } from "zod";
import { BootAreaRecord, PowerSettings } from "../../protocol/index.js";

export class SqliteMachineSettings {
  constructor(private readonly db: Database.Database) {}

  /** False when there is no such machine. */
  setPower(machineId: string, settings: PowerSettings): Promise<boolean> {
    const changed = this.db
      .prepare("UPDATE machines SET power_json = ? WHERE id = ?")
      .run(JSON.stringify(settings), machineId).changes;
    return Promise.resolve(changed === 1);
  }

  /** The machine's power settings; `none` when it has none. */
  power(machineId: string): Promise<PowerSettings> {
    const row = z
      .object({ power_json: z.string().nullable() })
      .optional()
      .parse(this.db.prepare("SELECT power_json FROM machines WHERE id = ?").get(machineId));
    return Promise.resolve(
      row?.power_json ? PowerSettings.parse(JSON.parse(row.power_json)) : { driver: "none" },
    );
  }

  putBootArea(machineId: string, record: BootAreaRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO boot_areas (machine_id, record_json) VALUES (?, ?)
         ON CONFLICT (machine_id) DO UPDATE SET record_json = excluded.record_json`,
      )
      .run(machineId, JSON.stringify(record));
    return Promise.resolve();
  }

  bootArea(machineId: string): Promise<BootAreaRecord | undefined> {
    const row = z
      .object({ record_json: z.string() })
      .optional()
      .parse(this.db.prepare("SELECT record_json FROM boot_areas WHERE machine_id = ?").get(machineId));
    return Promise.resolve(row ? BootAreaRecord.parse(JSON.parse(row.record_json)) : undefined);
  }
}
