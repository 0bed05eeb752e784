// The store contract on the embedded SQLite store (a temp file), and its migrations: from an empty file,
// and from the previous schema with its rows kept.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SQLITE_MIGRATIONS } from "../sqlite/migrations.js";
import { SqliteStore } from "../sqlite/store.js";
import { chainedLeaseContract } from "./chained-lease-contract.js";
import { driftContract } from "./drift-contract.js";
import { enrollmentContract } from "./enrollment-contract.js";
import { imageContract } from "./image-contract.js";
import { factoryContract } from "./factory-contract.js";
import { lifecycleContract } from "./lifecycle-contract.js";
import { storeContract } from "./store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "bootwright-contract-sqlite-"));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

storeContract("sqlite", () => Promise.resolve(SqliteStore.open(join(dir, "contract.sqlite"))));

describe("enrollment on sqlite", () => {
  let store: SqliteStore;
  beforeAll(() => {
    store = SqliteStore.open(join(dir, "enrollment.sqlite"));
  });
  afterAll(async () => {
    await store.close();
  });
  enrollmentContract("sqlite", () => store);
});

describe("chained leases on sqlite", () => {
  let store: SqliteStore;
  beforeAll(() => {
    store = SqliteStore.open(join(dir, "chained.sqlite"));
  });
  afterAll(async () => {
    await store.close();
  });
  chainedLeaseContract("sqlite", () => store);
});

describe("drift on sqlite", () => {
  let store: SqliteStore;
  beforeAll(() => {
    store = SqliteStore.open(join(dir, "drift.sqlite"));
  });
  afterAll(async () => {
    await store.close();
  });
  driftContract("sqlite", () => store);
});

describe("lifecycle on sqlite", () => {
  let store: SqliteStore;
  beforeAll(() => {
    store = SqliteStore.open(join(dir, "lifecycle.sqlite"));
  });
  afterAll(async () => {
    await store.close();
  });
  lifecycleContract("sqlite", () => store);
});

describe("factory rows on sqlite", () => {
  let store: SqliteStore;
  beforeAll(() => {
    store = SqliteStore.open(join(dir, "factory.sqlite"));
  });
  afterAll(async () => {
    await store.close();
  });
  factoryContract("sqlite", () => store);
});

describe("image rows on sqlite", () => {
  let store: SqliteStore;
  beforeAll(() => {
    store = SqliteStore.open(join(dir, "images.sqlite"));
  });
  afterAll(async () => {
    await store.close();
  });
  imageContract("sqlite", () => store);
});

it("sqlite migrates an empty file to the current schema", async () => {
  const path = join(dir, "empty.sqlite");
  const store = SqliteStore.open(path);
  expect(store.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
  await store.close();
});

it("sqlite migrates a file at the previous schema, keeping its rows", async () => {
  const path = join(dir, "previous.sqlite");
  const db = new Database(path);
  SQLITE_MIGRATIONS.slice(0, -1).forEach((sql, i) => {
    db.exec(sql);
    db.pragma(`user_version = ${i + 1}`);
  });
  db.prepare(
    "INSERT INTO machines (id, boot_mac, category, first_seen_at, last_seen_at) VALUES ('m1', '52:54:00:00:00:01', 'discovered', 't', 't')",
  ).run();
  db.close();
  const store = SqliteStore.open(path);
  expect(store.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
  expect(await store.transaction((rows) => rows.machines.get("m1"))).toMatchObject({
    id: "m1",
    category: "discovered",
  });
  expect(await store.transaction((rows) => rows.machines.power("m1"))).toEqual({ driver: "none" });
  await store.close();
});
