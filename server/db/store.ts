// The store interface: every read and write of server state goes through it. Narrow and async so a
// PostgreSQL implementation can follow the SQLite one without touching callers (style.md §11).
import type { Inventory, MacAddress, Machine } from "../../protocol/index.js";

export interface LogEntry {
  seq: number;
  machineId: string;
  at: string;
  /** A constant event name: "discovered", "boot-script", "inventory", … */
  event: string;
  data: Record<string, unknown>;
}

export interface BootRequest {
  mac: MacAddress;
  /** SMBIOS UUID iPXE reported, if any (identity falls back to the MAC). */
  uuid: string | null;
  at: Date;
}

export interface Store {
  /** iPXE asked for a machine's script: enroll it as `discovered` if new, else note it was seen. */
  recordBootRequest(request: BootRequest): Promise<{ machine: Machine; isNew: boolean }>;
  /** The loader posted an inventory: enroll (if booted without iPXE) or update, in one transaction. */
  recordInventory(inventory: Inventory, at: Date): Promise<Machine>;
  listMachines(): Promise<Machine[]>;
  getMachine(id: string): Promise<Machine | undefined>;
  machineLog(id: string): Promise<LogEntry[]>;
  close(): Promise<void>;
}
