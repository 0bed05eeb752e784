// A rack relay (Debian's nginx, configured by `bootwright relay config`) in front of three real servers on
// one PostgreSQL; real agent processes (agent/installer/stream-cli.ts, the VMs' streamImage writing to
// files) install through it. Four machines read an image across the uplink once: every slice is fetched
// from a server once and the rest come from the relay's cache. Then one server is killed with SIGKILL in
// the middle of four more installs: they complete through the others, and in the database every command
// succeeded exactly once.
import { randomBytes } from "node:crypto";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { NextAction, ServerList, type ImageRecord, type LeasedCommand } from "../../protocol/index.js";
import { uploadImage } from "../cli/image-commands.js";
import { packageVersion } from "../http/openapi.js";
import { startTestCluster, type TestCluster } from "../cluster/test-cluster.js";
import { inventoryFor, jsonRequest, killProcess, runStreamAgent, TEST_ADMIN_TOKEN } from "../test-support.js";
import { startLocalRelay, uplinkReads, type LocalRelay } from "./local-relay.js";

const RAW_MIB = 20; // random bytes: zstd keeps them as they are, five 4 MiB slices

let cluster: TestCluster;
let relay: LocalRelay;
const images: Record<"a" | "b", { record: ImageRecord; raw: Buffer }> = {} as never;

const uuid = (n: number): string => `4c4c4544-0000-4000-8000-${String(n).padStart(12, "0")}`;
const mac = (n: number): string => `52:54:00:de:00:${n.toString(16).padStart(2, "0")}`;

async function makeImage(name: "a" | "b"): Promise<void> {
  const raw = randomBytes(RAW_MIB << 20);
  const packed = join(cluster.dir, `${name}.raw.zst`);
  writeFileSync(packed, compress(raw, { compressionLevel: 1 }));
  const { image } = await uploadImage(
    relay.url,
    packed,
    { name: `disk-${name}`, format: "raw.zst", purpose: "os" },
    TEST_ADMIN_TOKEN,
  );
  images[name] = { record: image, raw };
}

beforeAll(async () => {
  cluster = await startTestCluster(3, {
    BOOTWRIGHT_CLUSTER_LEASE_MS: "2000",
    BOOTWRIGHT_LEASE_MS: "5000",
    // A lease its server took as it died, its answer lost, is handed out again after this.
    BOOTWRIGHT_IMAGE_LEASE_MS: "20000",
    BOOTWRIGHT_BATCH_WINDOW_MS: "0",
  });
  relay = await startLocalRelay(cluster.servers.map((s) => s.url));
  const policy = {
    rules: [
      { name: "a", match: [{ fact: "product", equals: "A" }], plan: { image: "disk-a" } },
      { name: "b", match: [{ fact: "product", equals: "B" }], plan: { image: "disk-b" } },
    ],
  };
  const set = await jsonRequest(`${relay.url}/v1/policy`, "PUT", {
    format: "json",
    source: JSON.stringify(policy),
  });
  expect(set.status).toBe(200);
  await makeImage("a");
  await makeImage("b");
}, 180_000);

afterAll(async () => {
  await relay.stop();
  await cluster.stop();
});

/** The loader's poll: the next command, which must be `kind` (a lease another server still holds waits). */
async function lease(id: string, kind: LeasedCommand["kind"]): Promise<LeasedCommand> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const res = await jsonRequest(`${relay.url}/v1/machines/${id}/next`, "GET");
    // Not 200: every server it tried was down; "wait": nothing yet. Ask again, as the loader does.
    const next = res.status === 200 ? NextAction.parse(res.body) : undefined;
    if (next?.action === "run") {
      if (next.command.kind !== kind) throw new Error(`${id}: expected ${kind}, leased ${next.command.kind}`);
      return next.command;
    }
    await delay(200);
  }
  throw new Error(`${id}: ${kind} never leased`);
}

/** Retries what a dead server answered 502 to (the command results are safe to send again). */
async function post(path: string, body: unknown): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    const res = await jsonRequest(`${relay.url}${path}`, "POST", body);
    if (res.status === 200) return res.body;
    if (res.status !== 502 || attempt > 5)
      throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    await delay(300);
  }
}

/** One machine's whole install through the relay, with its image really streamed by an agent process. */
async function install(n: number, image: "a" | "b", onStreaming: () => void): Promise<string> {
  const id = uuid(n);
  const product = image.toUpperCase();
  const enrolled = await jsonRequest(
    `${relay.url}/v1/inventory`,
    "POST",
    inventoryFor(mac(n), { product, serial: `SN-${n}`, uuid: id }),
  );
  expect(enrolled.status).toBe(200);
  expect(
    (await jsonRequest(`${relay.url}/v1/machines/${id}/expected`, "PUT", { category: "installed" })).status,
  ).toBe(200);
  const check = await lease(id, "check-disks");
  const disks = [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 2 }];
  await post(`/v1/machines/${id}/commands/${check.id}/result`, {
    leaseId: check.leaseId,
    outcome: "succeeded",
    output: { kind: "check-disks", disks },
  });
  const target = join(cluster.dir, `target-${n}.img`);
  writeFileSync(target, Buffer.alloc(0));
  truncateSync(target, (RAW_MIB + 4) << 20);
  for (const kind of ["run-agent", "write-image"] as const) {
    const command = await lease(id, kind);
    if (kind === "write-image") {
      onStreaming();
      await runStreamAgent(relay.url, images[image].record.sha256, target, id);
    }
    await post(`/v1/machines/${id}/commands/${command.id}/result`, {
      leaseId: command.leaseId,
      outcome: "succeeded",
      output: { kind, sha256: command.agent?.sha256 ?? "", steps: [] },
    });
  }
  await lease(id, "boot-installed");
  const machine = (await jsonRequest(`${relay.url}/v1/machines/${id}`, "GET")).body as {
    plan?: { planHash?: string };
  };
  await post(`/v1/machines/${id}/callhome`, {
    image: `sha256:${images[image].record.sha256}`,
    planHash: machine.plan?.planHash ?? "",
    os: "tiny 6.1",
  });
  expect(
    readFileSync(target)
      .subarray(0, RAW_MIB << 20)
      .equals(images[image].raw),
  ).toBe(true);
  return id;
}

it("four machines behind the relay read their image across the uplink once", async () => {
  await Promise.all([1, 2, 3, 4].map((n) => install(n, "a", () => undefined)));
  const { sha256, sizeBytes } = images.a.record;
  const reads = uplinkReads(relay.accessLog(), sha256);
  const slices = Math.ceil(sizeBytes / (4 << 20));
  expect(reads.size).toBe(slices);
  expect([...reads.values()].every((r) => r.fetches === 1)).toBe(true);
  const bytes = [...reads.values()].reduce((sum, r) => sum + r.bytes, 0);
  // Each slice's response headers cross the uplink too: a few hundred bytes per slice.
  expect(bytes / sizeBytes).toBeGreaterThanOrEqual(1);
  expect(bytes / sizeBytes).toBeLessThan(1.001);
  const hits = relay.accessLog().filter((l) => l.uri === `/v1/images/${sha256}/blob` && l.cache === "HIT");
  expect(hits.length).toBeGreaterThanOrEqual(3 * slices); // the other three machines' slices, all cached
}, 240_000);

it("a server killed with SIGKILL in the middle of a batch install: the installs complete, each command applied once", async () => {
  const victim = cluster.servers[1];
  if (!victim) throw new Error("no server to kill");
  let killed: Promise<void> | undefined;
  // Killed as soon as the first agent starts streaming, while the others are between commands.
  const ids = await Promise.all(
    [5, 6, 7, 8].map((n) =>
      install(n, "b", () => {
        killed ??= killProcess(victim.child);
      }),
    ),
  );
  await killed;
  expect(victim.child.signalCode).toBe("SIGKILL");

  // In the database: every command of these machines succeeded, and each success was applied once.
  const commands = await cluster.sql<{ state: string; n: string }>(
    "SELECT state, COUNT(*) AS n FROM commands WHERE machine_id = ANY($1) GROUP BY state",
    [ids],
  );
  expect(commands).toEqual([{ state: "succeeded", n: String(ids.length * 4) }]);
  const applied = await cluster.sql<{ command: string; n: string }>(
    `SELECT data_json::json->>'command' AS command, COUNT(*) AS n FROM machine_log
     WHERE event = 'command-succeeded' AND machine_id = ANY($1) GROUP BY 1`,
    [ids],
  );
  expect(applied).toHaveLength(ids.length * 4);
  expect(applied.every((row) => row.n === "1")).toBe(true);
  const machines = await cluster.sql<{ category: string }>(
    "SELECT category FROM machines WHERE id = ANY($1)",
    [ids],
  );
  expect(machines.map((m) => m.category)).toEqual(ids.map(() => "installed"));
  // Slices cut off by the kill are fetched again from another server; none more than twice.
  const reads = uplinkReads(relay.accessLog(), images.b.record.sha256);
  expect([...reads.values()].every((r) => r.fetches <= 2)).toBe(true);
}, 240_000);

it("the servers list the relay their machines' requests came through, in PostgreSQL (GET /v1/servers)", async () => {
  const first = cluster.servers[0];
  if (!first) throw new Error("no server");
  const list = ServerList.parse((await jsonRequest(`${first.url}/v1/servers`, "GET")).body);
  expect(list.coordination).toBe("postgres");
  expect(list.relays.map(({ url, version }) => ({ url, version }))).toEqual([
    { url: relay.url, version: packageVersion() },
  ]);
  expect(Date.now() - Date.parse(list.relays[0]?.heartbeatAt ?? "")).toBeLessThan(60_000);
  const rows = await cluster.sql<{ url: string }>("SELECT url FROM relays");
  expect(rows).toEqual([{ url: relay.url }]);
});
