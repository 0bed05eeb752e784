// The store's rows over one connection's SQL (SQLite or PostgreSQL): the row classes, one per table group.
import type { Inventory } from "../../../protocol/index.js";
import type { Rows } from "../rows.js";
import type { Sql } from "../sql.js";
import { AuditTable, MachineCredentialTable, TokenTable } from "./auth.js";
import { BootEventTable } from "./boot-events.js";
import { CommandTable } from "./commands.js";
import { ImageTable, UploadTable } from "./images.js";
import { LogTable, PolicyTable } from "./log-policy.js";
import { MachineTable } from "./machines.js";
import { ParsedColumns } from "./parsed-columns.js";
import { BootAreaTable, HealthTable, RunTable, ScheduleTable } from "./maintenance.js";
import { SharedUuidTable } from "./shared-uuids.js";
import { ReleaseTable } from "./releases.js";
import { StationTable, TravelerTable } from "./travelers.js";

/** What a store keeps across its transactions for the rows over it: parsed inventories. */
export interface RowCaches {
  inventories: ParsedColumns<Inventory>;
}

export function rowCaches(): RowCaches {
  return { inventories: new ParsedColumns() };
}

export function rowsOver(sql: Sql, caches: RowCaches): Rows {
  return {
    machines: new MachineTable(sql, caches.inventories),
    commands: new CommandTable(sql),
    log: new LogTable(sql),
    policy: new PolicyTable(sql),
    images: new ImageTable(sql),
    uploads: new UploadTable(sql),
    runs: new RunTable(sql),
    schedules: new ScheduleTable(sql),
    health: new HealthTable(sql),
    bootAreas: new BootAreaTable(sql),
    bootEvents: new BootEventTable(sql),
    tokens: new TokenTable(sql),
    audit: new AuditTable(sql),
    credentials: new MachineCredentialTable(sql),
    sharedUuids: new SharedUuidTable(sql),
    releases: new ReleaseTable(sql),
    travelers: new TravelerTable(sql),
    station: new StationTable(sql),
  };
}
