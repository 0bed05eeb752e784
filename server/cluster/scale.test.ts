// The load simulation (bench/scale-sim.ts) at 500 machines against three servers on one PostgreSQL behind
// an nginx relay: every machine enrolls, is expected ready, leases its command and posts its result, and
// afterwards each one is ready and each command's result was applied once (checked in the database).
import { afterAll, beforeAll, expect, it } from "vitest";
import { simulate } from "../../bench/scale-sim.js";
import { startLocalRelay, type LocalRelay } from "../relay/local-relay.js";
import { startTestCluster, type TestCluster } from "./test-cluster.js";

const MACHINES = 500;

let cluster: TestCluster;
let relay: LocalRelay;

beforeAll(async () => {
  cluster = await startTestCluster(3, {
    // Every simulated machine enrolls from 127.0.0.1: the per-address enrollment limit is not under test.
    BOOTWRIGHT_RATE_LIMIT_BURST: "100000",
    BOOTWRIGHT_RATE_LIMIT_PER_SECOND: "100000",
  });
  relay = await startLocalRelay(cluster.servers.map((s) => s.url));
}, 120_000);

afterAll(async () => {
  await relay.stop();
  await cluster.stop();
});

it(`${MACHINES} simulated machines through a relay to three servers: every one ready, every result applied once`, async () => {
  const report = await simulate({ baseUrl: relay.url, machines: MACHINES, concurrency: 32, run: 1 });
  expect(report.ready).toBe(MACHINES);
  expect(report.applied).toBe(MACHINES);
  expect(report.calls).toBe(MACHINES * 5); // inventory, expected, next (run), result, next (nothing left)

  const commands = await cluster.sql<{ kind: string; state: string; n: string }>(
    "SELECT kind, state, COUNT(*) AS n FROM commands GROUP BY kind, state",
  );
  expect(commands).toEqual([{ kind: "check-disks", state: "succeeded", n: String(MACHINES) }]);
  const applied = await cluster.sql<{ times: string; n: string }>(
    `SELECT times, COUNT(*) AS n FROM (SELECT data_json::json->>'command' AS command, COUNT(*) AS times
       FROM machine_log WHERE event = 'command-succeeded' GROUP BY 1) AS per_command GROUP BY times`,
  );
  expect(applied).toEqual([{ times: "1", n: String(MACHINES) }]);
}, 240_000);
