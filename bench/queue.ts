// reconcile.*, queue.* and store.* figures: the pure reconciler over 10,000 machines, and lease + result
// round trips per second against the real server process on loopback, on its SQLite store and on a real
// PostgreSQL (Debian's, started here in a temp directory), the same load in the same run; on SQLite also
// commands per second with each result's answer leasing the next (queue-chained.ts).
import type { ChildProcess } from "node:child_process";
import { Agent, request, type RequestOptions, type IncomingMessage, type ClientRequest } from "node:http";
import { Agent as TlsAgent, request as tlsRequest } from "node:https";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { BootCategory, type NextAction } from "../protocol/index.js";
import { reconcile, type MachineState } from "../server/queue/reconciler.js";
import { postgresBin, startLocalPostgres } from "../server/db/postgres/local-server.js";
import { freePort, spawnServerProcess, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { monotonicUs, processCpuMs, profileBreakdown } from "./cpu-profile.js";
import { median, percentile, type Figure } from "./figures.js";
import {
  benchInventory,
  benchResult,
  chainedFigure,
  chainedRounds,
  type ChainedRounds,
} from "./queue-chained.js";

export function reconcileFigures(): Promise<Figure[]> {
  const categories = BootCategory.options;
  // Deterministic pseudo-random boot list: same input every run.
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const machines: MachineState[] = Array.from({ length: 10_000 }, (_, i) => ({
    id: `m${i.toString().padStart(5, "0")}`,
    category: categories[rand(categories.length)] ?? "discovered",
    expected: rand(3) === 0 ? null : (categories[rand(categories.length)] ?? null),
  }));
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    reconcile(machines);
    runs.push(performance.now() - started);
  }
  return Promise.resolve([
    {
      id: "reconcile.10k_ms",
      value: Number(median(runs).toFixed(2)),
      unit: "ms",
      note: `median of 7; 10,000 machines, ~2/3 with an expectation; ${reconcile(machines).length} differences; goal ≤ 50`,
    },
  ]);
}

const MACHINES = 1000;
const CONCURRENCY = 8;
const HEALTHZ_PROBES = 2000;

interface RoundTrips {
  perSecond: number;
  p50: number;
  p99: number;
  /** The server process's CPU time (user + system) per round trip, µs: what load on the machine does not inflate. */
  serverCpuUs: number;
  /** Where the server's CPU went during the round trips (ms per layer), when profiled. */
  profile?: [string, number][];
  /**
   * GET /healthz per second through the same client and concurrency: what this machine's HTTP stack
   * answers with no work behind it, so the round trips' bound (two requests each) is in the same run.
   */
  healthzPerSecond: number;
  /** The same machines with two commands queued each, run chained (`?next=1`) and not, alternating. */
  chained?: ChainedRounds;
}

/**
 * BENCH_CPU_PROFILE=<dir>: each server runs under node --cpu-prof, writing its profile into a folder of
 * <dir> (open it in Chrome DevTools), and stops with SIGTERM so that it does; the figure's note gets the
 * server's CPU per layer during the round trips. Profiling slows the server: the figures of such a run
 * are not the ones to report.
 */
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE;

/**
 * Lease + result round trips for MACHINES machines, on the store `env` names (default: SQLite), each
 * machine under its own credential (as since issue 17 always); over TLS when `env` turns it on.
 */
async function roundTrips(env: Record<string, string>, withChained = false): Promise<RoundTrips> {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-queue-"));
  const port = await freePort();
  // One client enrolls all MACHINES from one address as fast as it can: no rate limit, or it measures that.
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const profileDir = PROFILE_DIR ? mkdtempSync(join(PROFILE_DIR, "queue-")) : "";
  const server = await spawnServerProcess(
    dir,
    port,
    { BOOTWRIGHT_RATE_LIMIT_BURST: "0", ...env },
    profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
  );
  const tls = env.BOOTWRIGHT_TLS === "auto";
  // node:http with keep-alive, not fetch: on this machine fetch tops out near 700 requests/s on its
  // own (measured against /healthz: 730/s with fetch, 2,680/s with node:http), which would measure the client.
  const agent = tls
    ? new TlsAgent({ keepAlive: true, maxSockets: CONCURRENCY, ca: readFileSync(join(dir, "tls", "ca.pem")) })
    : new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const send = (options: RequestOptions, done: (res: IncomingMessage) => void): ClientRequest =>
    tls ? tlsRequest(options, done) : request(options, done);
  const credentials = new Map<string, string>();
  const call = (path: string, method = "GET", body?: unknown, token = TEST_ADMIN_TOKEN): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = send(
        {
          host: "127.0.0.1",
          port,
          path,
          method,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload
              ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            if ((res.statusCode ?? 500) >= 400)
              reject(new Error(`${method} ${path}: ${res.statusCode ?? "?"} ${text}`));
            else resolve(JSON.parse(text) as unknown);
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  try {
    const ids: string[] = [];
    for (let i = 0; i < MACHINES; i++) {
      const inventory = benchInventory(i);
      const mac = inventory.bootMac;
      const accepted = (await call("/v1/inventory", "POST", inventory)) as { credential: string };
      credentials.set(mac, accepted.credential);
      ids.push(mac);
    }
    await call("/v1/expected", "POST", {
      category: "ready",
      where: { path: "inventory.system.product", equals: "B1" },
    });

    const healthzStarted = performance.now();
    let probe = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (probe++ < HEALTHZ_PROBES) await call("/healthz");
      }),
    );
    const healthzPerSecond = Math.round(HEALTHZ_PROBES / ((performance.now() - healthzStarted) / 1000));

    const latencies: number[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < ids.length; i = next++) {
        const id = ids[i] ?? "";
        const started = performance.now();
        const credential = credentials.get(id) ?? "";
        const action = (await call(`/v1/machines/${id}/next`, "GET", undefined, credential)) as NextAction;
        if (action.action !== "run") throw new Error(`machine ${id} had nothing queued`);
        await call(
          `/v1/machines/${id}/commands/${action.command.id}/result`,
          "POST",
          benchResult(action.command, i),
          credential,
        );
        latencies.push(performance.now() - started);
      }
    };
    const started = performance.now();
    const fromUs = monotonicUs();
    const cpuBefore = processCpuMs(server);
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const cpuMs = processCpuMs(server) - cpuBefore;
    const toUs = monotonicUs();
    const seconds = (performance.now() - started) / 1000;
    const chained = withChained
      ? await chainedRounds(ids, credentials, call, server, CONCURRENCY)
      : undefined;
    return {
      ...(chained ? { chained } : {}),
      perSecond: Math.round(ids.length / seconds),
      p50: Number(percentile(latencies, 50).toFixed(1)),
      p99: Number(percentile(latencies, 99).toFixed(1)),
      serverCpuUs: Math.round((cpuMs / ids.length) * 1000),
      healthzPerSecond,
      ...(profileDir ? { profile: await stopProfiled(server, profileDir, fromUs, toUs) } : {}),
    };
  } finally {
    agent.destroy();
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGTERM, so the server writes its profile on the way out; then its breakdown over the window. */
async function stopProfiled(
  server: ChildProcess,
  profileDir: string,
  fromUs: number,
  toUs: number,
): Promise<[string, number][]> {
  const exited = new Promise((done) => server.once("exit", done));
  server.kill("SIGTERM");
  await exited;
  const file = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile"));
  if (!file) throw new Error(`the server wrote no profile in ${profileDir}`);
  // The round trips' window on the profile's clock, for a look at the same samples elsewhere.
  writeFileSync(join(profileDir, "round-trips.window"), `${fromUs} ${toUs}\n`);
  return profileBreakdown(join(profileDir, file), fromUs, toUs);
}

/** "zod 120 ms (15%), sqlite …": a profile's layers as the note gives them, per round trip too. */
function describeProfile(profile: [string, number][] | undefined, roundTrips: number): string {
  if (!profile) return "";
  const busy = profile.filter(([layer]) => layer !== "idle").reduce((sum, [, ms]) => sum + ms, 0);
  const layers = profile
    .filter(([layer]) => layer !== "idle")
    .map(
      ([layer, ms]) =>
        `${layer} ${((ms / roundTrips) * 1000).toFixed(0)} µs (${((ms / busy) * 100).toFixed(0)}%)`,
    )
    .join(", ");
  return `; server CPU per round trip (node --cpu-prof, profiled run): ${((busy / roundTrips) * 1000).toFixed(0)} µs: ${layers}`;
}

/** The bound the HTTP stack alone puts on lease + result (two requests per round trip), same run. */
function httpBound(trips: RoundTrips): string {
  return `bound: this machine answers ${trips.healthzPerSecond} GET /healthz/s through the same client (no work behind them), so at most ${Math.round(trips.healthzPerSecond / 2)} round trips/s of two requests`;
}

export async function queueFigures(): Promise<Figure[]> {
  const sqlite = await roundTrips({}, true);
  const secure = await roundTrips({ BOOTWRIGHT_TLS: "auto" });
  const postgres = await startLocalPostgres();
  let pg: RoundTrips;
  try {
    pg = await roundTrips({ BOOTWRIGHT_STORE: await postgres.createDatabase("bench") });
  } finally {
    await postgres.stop();
  }
  const load = `lease + result, ${MACHINES} machines, ${CONCURRENCY} concurrent clients, server process on loopback`;
  return [
    {
      id: "queue.roundtrips_per_s",
      value: sqlite.perSecond,
      unit: "1/s",
      note: `${load}, SQLite WAL synchronous=NORMAL; p50 ${sqlite.p50} ms, p99 ${sqlite.p99} ms; server CPU ${sqlite.serverCpuUs} µs per round trip; ${httpBound(sqlite)}; goal ≥ 2,000, p99 ≤ 20 ms${describeProfile(sqlite.profile, MACHINES)}`,
    },
    ...(sqlite.chained ? [chainedFigure(sqlite.chained, sqlite.healthzPerSecond, CONCURRENCY)] : []),
    {
      id: "queue.roundtrips_per_s_secure",
      value: Number((secure.perSecond / sqlite.perSecond).toFixed(2)),
      unit: "ratio",
      ours: secure.perSecond,
      baseline: sqlite.perSecond,
      baseline_is:
        "the same load over plain HTTP, same run (machine credentials on both: they cannot be turned off)",
      note: `${load}, SQLite; --tls auto (TLS 1.3, EC P-256, keep-alive); p50 ${secure.p50} ms, p99 ${secure.p99} ms; server CPU ${secure.serverCpuUs} µs per round trip; goal ≥ 0.8${describeProfile(secure.profile, MACHINES)}`,
    },
    {
      id: "store.pg_vs_sqlite_roundtrips",
      value: Number((pg.perSecond / sqlite.perSecond).toFixed(2)),
      unit: "ratio",
      ours: pg.perSecond,
      baseline: sqlite.perSecond,
      baseline_is: "the same load on the SQLite store, same run",
      note: `${load}; PostgreSQL ${basename(dirname(postgresBin()))} on a Unix socket, fsync off (a test cluster), pool of 10; p50 ${pg.p50} ms, p99 ${pg.p99} ms; server CPU ${pg.serverCpuUs} µs per round trip (PostgreSQL's own not counted); goal ≥ 0.5`,
    },
  ];
}
