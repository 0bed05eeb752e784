// `bootwright store copy` from a SQLite store with a site's state in it to a real PostgreSQL, run as an
// operator would (the CLI): every table verified, the same machines, logs and queues read back through
// the services on PostgreSQL; a second copy into the now non-empty database is refused.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Services } from "../../services.js";
import { sampleInventory } from "../../test-support.js";
import { startLocalPostgres, type LocalPostgres } from "../postgres/local-server.js";
import { PgStore } from "../postgres/store.js";
import { SqliteStore } from "../sqlite/store.js";

const BIN = join(import.meta.dirname, "../../../bin/bootwright");
const dir = mkdtempSync(join(tmpdir(), "bootwright-copy-"));
const sqlitePath = join(dir, "site.sqlite");
let postgres: LocalPostgres;

beforeAll(async () => {
  postgres = await startLocalPostgres();
  const site = new Services(SqliteStore.open(sqlitePath));
  const at = new Date("2026-01-01T00:00:00.000Z");
  await site.setPolicy("rules: []", "yaml", at);
  await site.setPolicy("rules: []\n", "yaml", at); // version 2: the version is copied too
  for (let i = 0; i < 20; i++) {
    const uuid = `0e0c8a6a-6f5f-4c43-9d57-${String(i).padStart(12, "0")}`;
    await site.recordInventory(
      sampleInventory({ system: { manufacturer: "Acme", product: "X1", serial: `S${i}`, uuid } }),
      at,
    );
    await site.setExpected(uuid, "ready", at);
  }
  await site.images.add({
    sha256: "a".repeat(64),
    name: "debian-12",
    format: "raw.zst",
    purpose: "os",
    sizeBytes: 5_000_000_000,
    rawBytes: 1,
    rawSha256: "b".repeat(64),
    createdAt: at.toISOString(),
    origin: null,
  });
  await site.schedules.add(
    {
      target: { machine: "m" },
      cron: "0 3 * * *",
      at: null,
      image: "diagnostic",
      mode: "passive",
      timeoutMs: null,
      nextFireAt: "2026-01-02T03:00:00.000Z",
    },
    at,
  );
  await site.close();
}, 60_000);

afterAll(async () => {
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("copies a SQLite site into PostgreSQL, verified table by table, and the services read the same state", async () => {
  const to = await postgres.createDatabase("copied");
  const { stdout } = await promisify(execFile)(BIN, [
    "store",
    "copy",
    "--from",
    `sqlite:${sqlitePath}`,
    "--to",
    to,
    "--json",
  ]);
  const report = JSON.parse(stdout) as { tables: { table: string; rows: number; sha256: string }[] };
  const rows = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
  expect(rows).toMatchObject({ machines: 20, commands: 20, policy: 1, images: 1, maintenance_schedules: 1 });
  expect(rows.machine_log).toBeGreaterThanOrEqual(60);

  const sqlite = new Services(SqliteStore.open(sqlitePath));
  const pg = new Services(await PgStore.open(to));
  try {
    expect(await pg.listMachines()).toEqual(await sqlite.listMachines());
    const id = "0e0c8a6a-6f5f-4c43-9d57-000000000007";
    expect(await pg.machineLog(id)).toEqual(await sqlite.machineLog(id));
    expect(await pg.machineQueue(id)).toEqual(await sqlite.machineQueue(id));
    expect(await pg.getPolicy()).toEqual(await sqlite.getPolicy());
    expect((await pg.getPolicy())?.version).toBe(2);
    expect(await pg.images.list()).toEqual(await sqlite.images.list());
    expect(await pg.schedules.list()).toEqual(await sqlite.schedules.list());
    // The copy goes on working: new log lines come after every copied one (PostgreSQL's sequence moved on).
    const copiedMax = Math.max(...(await pg.machineLog(id)).map((e) => e.seq));
    await pg.setExpected(id, null, new Date());
    const added = (await pg.machineLog(id)).filter((e) => e.seq > copiedMax).map((e) => e.event);
    expect(added).toEqual(["expected", "command-cancelled"]);
  } finally {
    await sqlite.close();
    await pg.close();
  }

  // A second copy into the same, now non-empty, database is refused and changes nothing.
  const again = promisify(execFile)(BIN, ["store", "copy", "--from", `sqlite:${sqlitePath}`, "--to", to]);
  await expect(again).rejects.toThrow(/the destination store is not empty \(table machines has rows\)/);
}, 120_000);
