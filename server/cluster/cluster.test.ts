// Three real server processes on one real PostgreSQL (Debian's, in a temp directory): every machine asks
// all three for work at once and each command is leased by one and its result applied once (checked in
// the database); the holder of the periodic work is killed with SIGKILL and another takes it over within
// its lease; an event raised on one server reaches an SSE client of another.
import { afterAll, beforeAll, expect, it } from "vitest";
import { NextAction, ServerList, type LeasedCommand, type LiveEvent } from "../../protocol/index.js";
import { liveEvents } from "../cli/event-stream.js";
import { cliOutput, inventoryFor, jsonRequest, killProcess, TEST_ADMIN_TOKEN } from "../test-support.js";
import { startTestCluster, type TestCluster, type TestServer } from "./test-cluster.js";

const LEASE_MS = 2_000; // the servers' registrations and duties
const MACHINES = 12;

let cluster: TestCluster;
let servers: TestServer[];

const uuid = (n: number): string => `4c4c4544-0000-4000-8000-${String(n).padStart(12, "0")}`;
const mac = (n: number): string => `52:54:00:ce:00:${n.toString(16).padStart(2, "0")}`;

async function serverList(url: string): Promise<ServerList> {
  return ServerList.parse((await jsonRequest(`${url}/v1/servers`, "GET")).body);
}

beforeAll(async () => {
  cluster = await startTestCluster(3, {
    BOOTWRIGHT_CLUSTER_LEASE_MS: String(LEASE_MS),
    BOOTWRIGHT_LEASE_MS: "60000",
  });
  servers = cluster.servers;
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

it("every command is leased by one server and its result applied once, whichever server is asked", async () => {
  const [a] = servers;
  if (!a) throw new Error("no server");
  for (let n = 1; n <= MACHINES; n++) {
    const enrolled = await jsonRequest(
      `${a.url}/v1/inventory`,
      "POST",
      inventoryFor(mac(n), { product: "X1", serial: `SN-${n}`, uuid: uuid(n) }),
    );
    expect(enrolled.status).toBe(200);
    expect(
      (await jsonRequest(`${a.url}/v1/machines/${uuid(n)}/expected`, "PUT", { category: "ready" })).status,
    ).toBe(200);
  }

  // Each machine asks all three servers at the same moment, three times over.
  const leased = new Map<string, LeasedCommand[]>();
  await Promise.all(
    Array.from({ length: MACHINES }, async (_, i) => {
      const id = uuid(i + 1);
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(
          servers.map(async (s) =>
            NextAction.parse((await jsonRequest(`${s.url}/v1/machines/${id}/next`, "GET")).body),
          ),
        );
        for (const answer of answers)
          if (answer.action === "run") leased.set(id, [...(leased.get(id) ?? []), answer.command]);
      }
    }),
  );
  for (let n = 1; n <= MACHINES; n++) expect(leased.get(uuid(n))).toHaveLength(1);

  // Each result posted to all three servers at once (an agent retrying through a proxy).
  const statuses = await Promise.all(
    [...leased].flatMap(([id, [command]]) =>
      servers.map(async (s) => {
        if (!command) throw new Error("no command");
        const res = await jsonRequest(`${s.url}/v1/machines/${id}/commands/${command.id}/result`, "POST", {
          leaseId: command.leaseId,
          outcome: "succeeded",
          output: {
            kind: "check-disks",
            disks: [{ name: "vda", sizeBytes: 2 ** 29, bytesRead: 2 ** 21, ms: 5 }],
          },
        });
        return { status: res.status, duplicate: (res.body as { duplicate?: boolean }).duplicate };
      }),
    ),
  );
  expect(statuses.every((s) => s.status === 200)).toBe(true);
  expect(statuses.filter((s) => s.duplicate === false)).toHaveLength(MACHINES);

  // In the database: one lease line and one success per command, every command done, every machine ready.
  const perCommand = await cluster.sql<{ command: string; event: string; n: string }>(
    `SELECT data_json::json->>'command' AS command, event, COUNT(*) AS n FROM machine_log
     WHERE event IN ('command-leased', 'command-succeeded') GROUP BY 1, 2`,
  );
  const succeeded = perCommand.filter((r) => r.event === "command-succeeded");
  expect(succeeded).toHaveLength(MACHINES);
  expect(succeeded.every((r) => r.n === "1")).toBe(true);
  const commands = await cluster.sql<{ state: string; n: string }>(
    "SELECT state, COUNT(*) AS n FROM commands GROUP BY state",
  );
  expect(commands).toEqual([{ state: "succeeded", n: String(MACHINES) }]);
  const machines = await cluster.sql<{ category: string; n: string }>(
    "SELECT category, COUNT(*) AS n FROM machines GROUP BY category",
  );
  expect(machines).toEqual([{ category: "ready", n: String(MACHINES) }]);
});

it("an event raised on one server reaches an SSE client of another", async () => {
  const [a, b] = servers;
  if (!a || !b) throw new Error("no servers");
  const stop = new AbortController();
  const seen: LiveEvent[] = [];
  let open = false;
  const reading = (async () => {
    for await (const event of liveEvents(b.url, {
      token: TEST_ADMIN_TOKEN,
      signal: stop.signal,
      onOpen: () => (open = true),
    }))
      seen.push(event);
  })();
  try {
    await until("the stream open", () => open);
    await jsonRequest(`${a.url}/v1/machines/${uuid(1)}/expected`, "PUT", { category: "installed" });
    await until("the category event on the other server", () =>
      seen.some(
        (e) => e.type === "category" && e.data.machineId === uuid(1) && e.data.expected === "installed",
      ),
    );
  } finally {
    stop.abort();
    await reading;
  }
});

it("the periodic work's holder is killed with SIGKILL: another server takes it over within its lease", async () => {
  const [first] = servers;
  if (!first) throw new Error("no server");
  const before = await serverList(first.url);
  expect(before.coordination).toBe("postgres");
  expect(before.servers).toHaveLength(3);
  expect(before.servers.every((s) => s.alive && s.version.length > 0)).toBe(true);
  // Every duty is held by exactly one server.
  const held = before.servers.flatMap((s) => s.duties).sort();
  expect(held).toEqual(["boot-log-prune", "lease-sweep", "maintenance-monitor"]);
  const holder = before.servers.find((s) => s.duties.includes("lease-sweep"));
  const victim = servers.find((s) => holder && s.url === holder.url);
  if (!holder || !victim) throw new Error("no holder among our servers");

  await killProcess(victim.child);
  const killedAt = Date.now();
  const survivor = servers.find((s) => s !== victim);
  if (!survivor) throw new Error("no survivor");
  let after = await serverList(survivor.url);
  while (!after.servers.some((s) => s.id !== holder.id && s.duties.includes("lease-sweep"))) {
    if (Date.now() - killedAt > 4 * LEASE_MS) throw new Error(`not taken over: ${JSON.stringify(after)}`);
    await new Promise((done) => setTimeout(done, 50));
    after = await serverList(survivor.url);
  }
  const tookMs = Date.now() - killedAt;
  // Its lease runs out within LEASE_MS of its last heartbeat; another's next heartbeat (every third of
  // it) takes it. A little slack for a loaded machine.
  expect(tookMs).toBeLessThan(LEASE_MS + LEASE_MS / 3 + 1_000);
  expect(after.servers.find((s) => s.id === holder.id)).toMatchObject({ alive: false, duties: [] });
  expect(after.servers.flatMap((s) => s.duties).sort()).toEqual([
    "boot-log-prune",
    "lease-sweep",
    "maintenance-monitor",
  ]);

  // What an operator sees: three servers, the killed one gone, the duties on the living.
  const table = await cliOutput(survivor.url, cluster.dir, ["servers"]);
  expect(table).toMatch(/^coordination: postgres\nID\s+VERSION\s+URL\s+HEARTBEAT\s+STATE\s+PERIODIC WORK\n/);
  expect(table.split("\n").filter((line) => / alive /.test(line))).toHaveLength(2);
  expect(table).toMatch(new RegExp(`${holder.id.replace(/[.]/g, "\\.")}\\s.* gone +-`));
});

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}
