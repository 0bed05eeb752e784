// Schema of the PostgreSQL store, as ordered migrations (bootwright_schema records how far a database
// is). The same tables and keys as the SQLite schema (../sqlite/migrations.ts), in PostgreSQL's types:
// times are ISO 8601 text (compared as text, as in SQLite), JSON is text, sizes are BIGINT.

export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE machines (
     id             TEXT PRIMARY KEY,      -- SMBIOS UUID when real, else boot MAC
     boot_mac       TEXT NOT NULL,
     category       TEXT NOT NULL,
     expected       TEXT,
     fingerprint    TEXT,
     plan_json      TEXT,
     inventory_json TEXT,                  -- protocol Inventory, null until the loader posts one
     installed_json TEXT,                  -- what the installed OS said when it last called home
     power_json     TEXT,                  -- the machine's power driver
     first_seen_at  TEXT NOT NULL,
     last_seen_at   TEXT NOT NULL
   );
   CREATE INDEX machines_by_boot_mac ON machines (boot_mac);
   CREATE INDEX machines_by_fingerprint ON machines (fingerprint);
   CREATE TABLE machine_log (
     seq        BIGSERIAL PRIMARY KEY,
     machine_id TEXT NOT NULL,
     at         TEXT NOT NULL,
     event      TEXT NOT NULL,
     data_json  TEXT NOT NULL
   );
   CREATE INDEX machine_log_by_machine ON machine_log (machine_id, seq);
   CREATE TABLE commands (
     seq              BIGSERIAL PRIMARY KEY,              -- queue order
     id               TEXT NOT NULL UNIQUE,
     machine_id       TEXT NOT NULL,
     kind             TEXT NOT NULL,
     on_success       TEXT NOT NULL,
     state            TEXT NOT NULL,                      -- queued | leased | succeeded | failed | cancelled
     attempts         INTEGER NOT NULL DEFAULT 0,
     lease_id         TEXT,                               -- kept after completion: a retried post matches it
     lease_expires_at TEXT,
     lease_until      TEXT,                               -- a lease that ends at a fixed time
     error            TEXT,
     created_at       TEXT NOT NULL,
     updated_at       TEXT NOT NULL
   );
   CREATE INDEX commands_by_machine ON commands (machine_id, state, seq);
   CREATE INDEX commands_leased ON commands (lease_expires_at) WHERE state = 'leased';
   CREATE TABLE policy (
     id         INTEGER PRIMARY KEY CHECK (id = 1),
     format     TEXT NOT NULL,
     source     TEXT NOT NULL,
     version    INTEGER NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE images (
     seq                BIGSERIAL NOT NULL,               -- insertion order (SQLite's rowid)
     sha256             TEXT PRIMARY KEY,
     name               TEXT NOT NULL,
     format             TEXT NOT NULL,
     purpose            TEXT NOT NULL,
     size_bytes         BIGINT NOT NULL,
     raw_bytes          BIGINT NOT NULL,
     raw_sha256         TEXT NOT NULL,
     created_at         TEXT NOT NULL,
     origin_json        TEXT,
     origin_recipe      TEXT,
     origin_fingerprint TEXT
   );
   CREATE INDEX images_by_name ON images (name, created_at);
   CREATE UNIQUE INDEX images_by_origin ON images (origin_recipe, origin_fingerprint)
     WHERE origin_recipe IS NOT NULL;
   CREATE TABLE uploads (
     id          TEXT PRIMARY KEY,
     name        TEXT NOT NULL,
     format      TEXT NOT NULL,
     purpose     TEXT NOT NULL,
     origin_json TEXT NOT NULL,
     origin_key  TEXT NOT NULL,                   -- recipe + fingerprint: one open upload per key
     received    BIGINT NOT NULL,
     state       TEXT NOT NULL,                   -- open | complete
     image       TEXT,
     created_at  TEXT NOT NULL,
     updated_at  TEXT NOT NULL
   );
   CREATE UNIQUE INDEX uploads_open_by_key ON uploads (origin_key) WHERE state = 'open';
   CREATE TABLE maintenance_runs (
     id               TEXT PRIMARY KEY,
     machine_id       TEXT NOT NULL,
     image_sha256     TEXT NOT NULL,
     image_name       TEXT NOT NULL,
     image_purpose    TEXT NOT NULL,
     mode             TEXT NOT NULL,
     trigger_json     TEXT NOT NULL,
     state            TEXT NOT NULL,
     original_json    TEXT NOT NULL,
     steps_json       TEXT NOT NULL,
     extra_steps_json TEXT NOT NULL,
     report_json      TEXT,
     power_json       TEXT NOT NULL,
     command_id       TEXT NOT NULL,
     started_at       TEXT NOT NULL,
     deadline_at      TEXT NOT NULL,
     running_at       TEXT,
     last_progress_at TEXT,
     reported_at      TEXT,
     ended_at         TEXT,
     error            TEXT,
     alerted_at       TEXT
   );
   CREATE INDEX maintenance_runs_by_machine ON maintenance_runs (machine_id, started_at);
   CREATE UNIQUE INDEX maintenance_runs_active ON maintenance_runs (machine_id)
     WHERE state IN ('rebooting', 'running', 'returning', 'restoring');
   CREATE TABLE maintenance_schedules (
     id            TEXT PRIMARY KEY,
     target_json   TEXT NOT NULL,
     cron          TEXT,
     at            TEXT,
     image         TEXT NOT NULL,
     mode          TEXT NOT NULL,
     timeout_ms    BIGINT,
     next_fire_at  TEXT,
     last_fired_at TEXT,
     fired         INTEGER NOT NULL DEFAULT 0,
     created_at    TEXT NOT NULL
   );
   CREATE INDEX maintenance_schedules_due ON maintenance_schedules (next_fire_at);
   CREATE TABLE health_reports (
     seq          BIGSERIAL PRIMARY KEY,
     machine_id   TEXT NOT NULL,
     at           TEXT NOT NULL,
     os           TEXT NOT NULL,
     figures_json TEXT NOT NULL,
     crossed_json TEXT NOT NULL
   );
   CREATE INDEX health_reports_by_machine ON health_reports (machine_id, seq);
   CREATE TABLE health_alerts (
     machine_id TEXT NOT NULL,
     rule       TEXT NOT NULL,
     since      TEXT NOT NULL,
     PRIMARY KEY (machine_id, rule)
   );
   CREATE TABLE boot_areas (
     machine_id  TEXT PRIMARY KEY,
     record_json TEXT NOT NULL
   );`,

  `ALTER TABLE machines ADD COLUMN boot_path TEXT;
   CREATE TABLE boot_events (
     seq     BIGSERIAL PRIMARY KEY,
     at      TEXT NOT NULL,
     mac     TEXT,
     address TEXT,
     source  TEXT NOT NULL,
     event   TEXT NOT NULL,
     detail  TEXT NOT NULL
   );
   CREATE INDEX boot_events_by_mac ON boot_events (mac, seq);
   CREATE INDEX boot_events_by_time ON boot_events (at);`,
  `CREATE TABLE api_tokens (
     id           TEXT PRIMARY KEY,
     name         TEXT NOT NULL,
     role         TEXT NOT NULL,
     secret_hash  TEXT NOT NULL,
     created_at   TEXT NOT NULL,
     created_by   TEXT,
     last_used_at TEXT,
     revoked_at   TEXT
   );
   CREATE TABLE audit_log (
     seq          BIGSERIAL PRIMARY KEY,
     at           TEXT NOT NULL,
     token_id     TEXT NOT NULL,
     token_name   TEXT NOT NULL,
     role         TEXT NOT NULL,
     action       TEXT NOT NULL,
     target       TEXT,
     details_json TEXT NOT NULL,
     source       TEXT
   );
   CREATE INDEX audit_log_by_target ON audit_log (target, seq);
   CREATE INDEX audit_log_by_time ON audit_log (at);`,
  `CREATE TABLE machine_credentials (
     id            TEXT PRIMARY KEY,
     machine_id    TEXT NOT NULL,
     scope         TEXT NOT NULL,
     secret_hash   TEXT NOT NULL,
     created_at    TEXT NOT NULL,
     first_used_at TEXT,
     revoked_at    TEXT
   );
   CREATE INDEX machine_credentials_by_machine ON machine_credentials (machine_id, scope);`,
  // Identity and enrollment (issue 17): a machine's enrollment state (who may enroll: approve and
  // allowlist modes, changed hardware, a held re-enrollment) with its reason, the SMBIOS UUID it shares
  // with another machine, and those shared UUIDs, which identify no machine. Machines enrolled before
  // were admitted (auto); those seen only by iPXE are still to be decided.
  `ALTER TABLE machines ADD COLUMN enrollment TEXT NOT NULL DEFAULT 'enrolled';
   ALTER TABLE machines ADD COLUMN enrollment_reason TEXT;
   ALTER TABLE machines ADD COLUMN shared_uuid TEXT;
   UPDATE machines SET enrollment = 'pending' WHERE inventory_json IS NULL;
   CREATE TABLE shared_uuids (
     uuid          TEXT PRIMARY KEY,                -- lower-case SMBIOS UUID
     machines_json TEXT NOT NULL,                   -- the boot-MAC ids of the machines it was seen on
     noticed_at    TEXT NOT NULL
   );`,
  // Releases (issue 18): how each released machine's disks are to be erased (quick, full, secure).
  `CREATE TABLE release_requests (
     machine_id   TEXT PRIMARY KEY,
     erase        TEXT NOT NULL,
     requested_at TEXT NOT NULL
   );`,
  // Retire, tags and notes (issue 18): a retired machine is kept (its row and log) but never planned or
  // installed; tags are a sorted JSON list of words; the note is free text.
  `ALTER TABLE machines ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE machines ADD COLUMN note TEXT;
   ALTER TABLE machines ADD COLUMN retired_at TEXT;
   ALTER TABLE machines ADD COLUMN retired_by TEXT;`,
  // The factory line (issue 22): one traveler per unit (its SMBIOS serial) with its stages as a JSON
  // document, written whole in the transaction that moves the unit; and the station the line runs.
  `CREATE TABLE travelers (
     serial     TEXT PRIMARY KEY,
     machine_id TEXT NOT NULL,
     station    TEXT NOT NULL,
     state      TEXT NOT NULL,
     stage      TEXT NOT NULL,
     doc_json   TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX travelers_by_machine ON travelers (machine_id, updated_at);
   CREATE INDEX travelers_by_time ON travelers (updated_at);
   CREATE TABLE factory_station (
     id          INTEGER PRIMARY KEY CHECK (id = 1),
     source      TEXT NOT NULL,
     format      TEXT NOT NULL,
     station_json TEXT NOT NULL,
     set_at      TEXT NOT NULL
   );`,
  // Many servers on one database (issue 25): each server's row (renewed by its heartbeat until
  // expires_at), the periodic duties each held by one server until its lease runs out (by the database's
  // clock), and live events too long for a NOTIFY payload, passed by their id.
  `CREATE TABLE servers (
     id           TEXT PRIMARY KEY,
     version      TEXT NOT NULL,
     url          TEXT NOT NULL,
     started_at   TIMESTAMPTZ NOT NULL,
     heartbeat_at TIMESTAMPTZ NOT NULL,
     expires_at   TIMESTAMPTZ NOT NULL
   );
   CREATE TABLE server_duties (
     name       TEXT PRIMARY KEY,
     holder     TEXT NOT NULL,
     expires_at TIMESTAMPTZ NOT NULL
   );
   CREATE TABLE server_events (
     id      BIGSERIAL PRIMARY KEY,
     payload TEXT NOT NULL,
     at      TIMESTAMPTZ NOT NULL DEFAULT now()
   );
   CREATE INDEX server_events_by_time ON server_events (at);`,
  // Rack relays (issue 25): each seen by the credentialed requests it passes on, its last one kept.
  `CREATE TABLE relays (
     url          TEXT PRIMARY KEY,
     version      TEXT NOT NULL,
     heartbeat_at TIMESTAMPTZ NOT NULL
   );`,
];
