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

  // Expected categories and the per-machine command queue (seed 000).
  `ALTER TABLE machines ADD COLUMN expected TEXT;
   CREATE TABLE commands (
     seq              INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order
     id               TEXT NOT NULL UNIQUE,
     machine_id       TEXT NOT NULL,
     kind             TEXT NOT NULL,
     on_success       TEXT NOT NULL,
     state            TEXT NOT NULL,                      -- queued | leased | succeeded | failed | cancelled
     attempts         INTEGER NOT NULL DEFAULT 0,
     lease_id         TEXT,                               -- kept after completion: a retried post matches it
     lease_expires_at TEXT,
     error            TEXT,
     created_at       TEXT NOT NULL,
     updated_at       TEXT NOT NULL
   ) STRICT;
   CREATE INDEX commands_by_machine ON commands (machine_id, state, seq);`,

  // The configuration fingerprint, kept beside the inventory it was computed from (captured images are
  // looked up by it: seed 003).
  `ALTER TABLE machines ADD COLUMN fingerprint TEXT;
   CREATE INDEX machines_by_fingerprint ON machines (fingerprint);`,

  // The current policy (issue 6): one row, its text as the operator wrote it; version counts changes.
  `CREATE TABLE policy (
     id         INTEGER PRIMARY KEY CHECK (id = 1),
     format     TEXT NOT NULL,                    -- yaml | json
     source     TEXT NOT NULL,
     version    INTEGER NOT NULL,
     updated_at TEXT NOT NULL
   ) STRICT;`,

  // The plan the policy resolved for a machine (protocol Machine.plan as JSON).
  `ALTER TABLE machines ADD COLUMN plan_json TEXT;`,

  // The image store's catalogue (issue 7): the bytes live in files named by their sha256; this is what
  // they are. origin_json is for captured images (who made them, from which configuration).
  `CREATE TABLE images (
     sha256      TEXT PRIMARY KEY,
     name        TEXT NOT NULL,
     format      TEXT NOT NULL,                   -- raw.zst | tar.zst
     purpose     TEXT NOT NULL,                   -- os | diagnostic | repair
     size_bytes  INTEGER NOT NULL,
     raw_bytes   INTEGER NOT NULL,
     raw_sha256  TEXT NOT NULL,
     created_at  TEXT NOT NULL,
     origin_json TEXT
   ) STRICT;
   CREATE INDEX images_by_name ON images (name, created_at);`,

  // Captured images (issue 8): looked up by the recipe that built them and the configuration fingerprint
  // of the machine they were built on; at most one image per pair, whoever finishes first.
  `ALTER TABLE images ADD COLUMN origin_recipe TEXT;
   ALTER TABLE images ADD COLUMN origin_fingerprint TEXT;
   CREATE UNIQUE INDEX images_by_origin ON images (origin_recipe, origin_fingerprint)
     WHERE origin_recipe IS NOT NULL;`,

  // Resumable uploads of captured images: the bytes so far are in a file named by the id; received is
  // only advanced after that file is fsynced, so a restart resumes from a length the disk really holds.
  `CREATE TABLE uploads (
     id          TEXT PRIMARY KEY,
     name        TEXT NOT NULL,
     format      TEXT NOT NULL,
     purpose     TEXT NOT NULL,
     origin_json TEXT NOT NULL,
     origin_key  TEXT NOT NULL,                   -- recipe + fingerprint: one open upload per key
     received    INTEGER NOT NULL,
     state       TEXT NOT NULL,                   -- open | complete
     image       TEXT,
     created_at  TEXT NOT NULL,
     updated_at  TEXT NOT NULL
   ) STRICT;
   CREATE UNIQUE INDEX uploads_open_by_key ON uploads (origin_key) WHERE state = 'open';`,
];
