// Schema of the embedded SQLite store, as ordered migrations; user_version records how far a file is.

export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE machines (
     id             TEXT PRIMARY KEY,      -- SMBIOS UUID when real, else boot MAC
     boot_mac       TEXT NOT NULL,
     category       TEXT NOT NULL,
     inventory_json TEXT,                  -- protocol Inventory, null until the loader posts one
     first_seen_at  TEXT NOT NULL,
     last_seen_at   TEXT NOT NULL
   ) STRICT;
   CREATE INDEX machines_by_boot_mac ON machines (boot_mac);
   CREATE TABLE machine_log (
     seq        INTEGER PRIMARY KEY AUTOINCREMENT,
     machine_id TEXT NOT NULL,
     at         TEXT NOT NULL,
     event      TEXT NOT NULL,
     data_json  TEXT NOT NULL
   ) STRICT;
   CREATE INDEX machine_log_by_machine ON machine_log (machine_id, seq);`,
];
