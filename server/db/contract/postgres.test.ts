// The store contract on a real PostgreSQL (Debian's package, started here in a temp directory on a
// Unix socket, stopped by its PID afterwards), and its migrations: from an empty database, and a second
// server opening the same database (nothing to do).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalPostgres, type LocalPostgres } from "../postgres/local-server.js";
import { POSTGRES_MIGRATIONS } from "../postgres/migrations.js";
import { PgStore } from "../postgres/store.js";
import { chainedLeaseContract } from "./chained-lease-contract.js";
import { driftContract } from "./drift-contract.js";
import { enrollmentContract } from "./enrollment-contract.js";
import { imageContract } from "./image-contract.js";
import { factoryContract } from "./factory-contract.js";
import { lifecycleContract } from "./lifecycle-contract.js";
import { storeContract } from "./store-contract.js";

let postgres: LocalPostgres | undefined;

async function server(): Promise<LocalPostgres> {
  postgres ??= await startLocalPostgres();
  return postgres;
}

afterAll(async () => {
  await postgres?.stop();
});

storeContract("postgres", async () => PgStore.open(await (await server()).createDatabase("contract")));

describe("enrollment on postgres", () => {
  let store: PgStore;
  beforeAll(async () => {
    store = await PgStore.open(await (await server()).createDatabase("enrollment"));
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });
  enrollmentContract("postgres", () => store);
});

describe("chained leases on postgres", () => {
  let store: PgStore;
  beforeAll(async () => {
    store = await PgStore.open(await (await server()).createDatabase("chained"));
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });
  chainedLeaseContract("postgres", () => store);
});

describe("drift on postgres", () => {
  let store: PgStore;
  beforeAll(async () => {
    store = await PgStore.open(await (await server()).createDatabase("drift"));
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });
  driftContract("postgres", () => store);
});

describe("lifecycle on postgres", () => {
  let store: PgStore;
  beforeAll(async () => {
    store = await PgStore.open(await (await server()).createDatabase("lifecycle"));
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });
  lifecycleContract("postgres", () => store);
});

describe("factory rows on postgres", () => {
  let store: PgStore;
  beforeAll(async () => {
    store = await PgStore.open(await (await server()).createDatabase("factory"));
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });
  factoryContract("postgres", () => store);
});

describe("image rows on postgres", () => {
  let store: PgStore;
  beforeAll(async () => {
    store = await PgStore.open(await (await server()).createDatabase("images"));
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });
  imageContract("postgres", () => store);
});

it("postgres migrates an empty database once, and a second server finds nothing to do", async () => {
  const pg = await server();
  const url = await pg.createDatabase("migrate");
  const [a, b] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
  expect(await a.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
  expect(await b.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
  await Promise.all([a.close(), b.close()]);
}, 60_000);
