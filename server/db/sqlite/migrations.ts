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

  // The maintenance swap (issue 9, seeds 001/004). installed_json: what the installed OS said when it
  // last called home (the original target a swap comes back to); power_json: the machine's power driver.
  // commands.lease_until: a lease that ends at a fixed time (a maintenance run's deadline).
  `ALTER TABLE machines ADD COLUMN installed_json TEXT;
   ALTER TABLE machines ADD COLUMN power_json TEXT;
   ALTER TABLE commands ADD COLUMN lease_until TEXT;
   CREATE TABLE maintenance_runs (
     id               TEXT PRIMARY KEY,
     machine_id       TEXT NOT NULL,
     image_sha256     TEXT NOT NULL,
     image_name       TEXT NOT NULL,
     image_purpose    TEXT NOT NULL,
     mode             TEXT NOT NULL,                  -- active | passive
     trigger_json     TEXT NOT NULL,
     state            TEXT NOT NULL,                  -- rebooting | running | returning | restoring | completed | failed
     original_json    TEXT NOT NULL,                  -- what the machine comes back to
     steps_json       TEXT NOT NULL,
     extra_steps_json TEXT NOT NULL,                  -- [{ step, delivered }]
     report_json      TEXT,
     power_json       TEXT NOT NULL,                  -- [{ via, at, ok, error }]
     command_id       TEXT NOT NULL,                  -- its run-maintenance command
     started_at       TEXT NOT NULL,
     deadline_at      TEXT NOT NULL,
     running_at       TEXT,
     last_progress_at TEXT,
     reported_at      TEXT,
     ended_at         TEXT,
     error            TEXT,
     alerted_at       TEXT                            -- a failure is alerted once (server log)
   ) STRICT;
   CREATE INDEX maintenance_runs_by_machine ON maintenance_runs (machine_id, started_at);
   -- One unfinished run per machine (failed runs stay restorable but do not block a new one).
   CREATE UNIQUE INDEX maintenance_runs_active ON maintenance_runs (machine_id)
     WHERE state IN ('rebooting', 'running', 'returning', 'restoring');
   CREATE TABLE maintenance_schedules (
     id            TEXT PRIMARY KEY,
     target_json   TEXT NOT NULL,                   -- { machine } | { where }
     cron          TEXT,
     at            TEXT,
     image         TEXT NOT NULL,
     mode          TEXT NOT NULL,
     timeout_ms    INTEGER,
     next_fire_at  TEXT,                            -- null once a one-time schedule fired
     last_fired_at TEXT,
     fired         INTEGER NOT NULL DEFAULT 0,
     created_at    TEXT NOT NULL
   ) STRICT;
   CREATE INDEX maintenance_schedules_due ON maintenance_schedules (next_fire_at);
   CREATE TABLE health_reports (
     seq          INTEGER PRIMARY KEY AUTOINCREMENT,
     machine_id   TEXT NOT NULL,
     at           TEXT NOT NULL,
     os           TEXT NOT NULL,
     figures_json TEXT NOT NULL,
     crossed_json TEXT NOT NULL
   ) STRICT;
   CREATE INDEX health_reports_by_machine ON health_reports (machine_id, seq);
   -- A health rule below (or above) its threshold on a machine: it fired once and waits for the figure
   -- to come back before it can fire again.
   CREATE TABLE health_alerts (
     machine_id TEXT NOT NULL,
     rule       TEXT NOT NULL,
     since      TEXT NOT NULL,
     PRIMARY KEY (machine_id, rule)
   ) STRICT;
   CREATE TABLE boot_areas (
     machine_id  TEXT PRIMARY KEY,
     record_json TEXT NOT NULL                      -- protocol BootAreaRecord; bytes in <data>/boot-areas
   ) STRICT;`,

  // Site boot (issue 16): how a machine last booted toward us, and the boot log: DHCP (the managed
  // dnsmasq's lines), TFTP and HTTP boot requests, by MAC where known, else by address.
  `ALTER TABLE machines ADD COLUMN boot_path TEXT;
   CREATE TABLE boot_events (
     seq     INTEGER PRIMARY KEY AUTOINCREMENT,
     at      TEXT NOT NULL,
     mac     TEXT,                                    -- null while only the address is known
     address TEXT,
     source  TEXT NOT NULL,                           -- dhcp | tftp | http
     event   TEXT NOT NULL,
     detail  TEXT NOT NULL
   ) STRICT;
   CREATE INDEX boot_events_by_mac ON boot_events (mac, seq);
   CREATE INDEX boot_events_by_time ON boot_events (at);`,
  // Trust (issue 17): operators' API tokens (the hash of the secret only) and the audit log of what
  // they changed, which the API can read but never edit.
  `CREATE TABLE api_tokens (
     id           TEXT PRIMARY KEY,
     name         TEXT NOT NULL,
     role         TEXT NOT NULL,
     secret_hash  TEXT NOT NULL,
     created_at   TEXT NOT NULL,
     created_by   TEXT,
     last_used_at TEXT,
     revoked_at   TEXT
   ) STRICT;
   CREATE TABLE audit_log (
     seq          INTEGER PRIMARY KEY AUTOINCREMENT,
     at           TEXT NOT NULL,
     token_id     TEXT NOT NULL,
     token_name   TEXT NOT NULL,
     role         TEXT NOT NULL,
     action       TEXT NOT NULL,
     target       TEXT,
     details_json TEXT NOT NULL,
     source       TEXT
   ) STRICT;
   CREATE INDEX audit_log_by_target ON audit_log (target, seq);
   CREATE INDEX audit_log_by_time ON audit_log (at);`,
  // Per-machine credentials (issue 17): the loader's (issued at each enrollment, one live at a time) and
  // the installed OS's (written into the marker, rotated at each call home). Hashes only.
  `CREATE TABLE machine_credentials (
     id            TEXT PRIMARY KEY,
     machine_id    TEXT NOT NULL,
     scope         TEXT NOT NULL,
     secret_hash   TEXT NOT NULL,
     created_at    TEXT NOT NULL,
     first_used_at TEXT,
     revoked_at    TEXT
   ) STRICT;
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
   ) STRICT;`,
  // Releases (issue 18): how each released machine's disks are to be erased (quick, full, secure).
  `CREATE TABLE release_requests (
     machine_id   TEXT PRIMARY KEY,
     erase        TEXT NOT NULL,
     requested_at TEXT NOT NULL
   ) STRICT;`,
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
   ) STRICT;
   CREATE INDEX travelers_by_machine ON travelers (machine_id, updated_at);
   CREATE INDEX travelers_by_time ON travelers (updated_at);
   CREATE TABLE factory_station (
     id          INTEGER PRIMARY KEY CHECK (id = 1),
     source      TEXT NOT NULL,
     format      TEXT NOT NULL,
     station_json TEXT NOT NULL,
     set_at      TEXT NOT NULL
   ) STRICT;`,
];
