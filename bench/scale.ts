// scale.*: the load simulation (scale-sim.ts) of 10,000 machines, (a) against one server on SQLite and
// (b) against three servers on one PostgreSQL behind an nginx relay, on loopback, 64 machines talking
// at once. scale.10k_next_p99_ms: p99 of `next` on (a); scale.10k_next_p99_ms_pg3: the same on (b);
// scale.pg3_vs_sqlite1_throughput: (b)'s calls per second ÷ (a)'s. A run in which any machine did not
// end ready, or a result was not applied exactly once, fails instead of reporting.
import { simulate, type SimulationReport } from "./scale-sim.js";
import { startTestCluster } from "../server/cluster/test-cluster.js";
import { startLocalRelay } from "../server/relay/local-relay.js";
import { freePort, killProcess, makeTempDir, spawnServerProcess } from "../server/test-support.js";
import type { Figure } from "./figures.js";
import { countCpu, describeCpu, totalCpu, type Role } from "./process-cpu.js";
import { availableParallelism } from "node:os";

interface Measured {
  report: SimulationReport;
  /** Each role's CPU µs per call during the simulation. */
  cpu: Partial<Record<Role, number>>;
}

async function measured(
  run: () => Promise<SimulationReport>,
  where: string,
  roots: readonly string[] = [],
): Promise<Measured> {
  const cpuPerCall = countCpu(roots);
  const report = checked(await run(), where);
  return { report, cpu: cpuPerCall(report.calls) };
}

const CONCURRENCY = 64;
/** Every simulated machine enrolls from 127.0.0.1: the per-address enrollment limit is not measured. */
const NO_RATE_LIMIT = { BOOTWRIGHT_RATE_LIMIT_BURST: "1000000", BOOTWRIGHT_RATE_LIMIT_PER_SECOND: "1000000" };

function checked(report: SimulationReport, where: string): SimulationReport {
  if (report.ready !== report.machines || report.applied !== report.machines)
    throw new Error(`${where}: ${report.ready} ready and ${report.applied} applied of ${report.machines}`);
  return report;
}

async function onSqlite(machines: number): Promise<Measured> {
  const work = makeTempDir("bootwright-scale-");
  const port = await freePort();
  const child = await spawnServerProcess(work.dir, port, NO_RATE_LIMIT).catch((err: unknown) => {
    work.remove();
    throw err;
  });
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    return await measured(
      () => simulate({ baseUrl, machines, concurrency: CONCURRENCY, run: 1 }),
      "one server on SQLite",
    );
  } finally {
    await killProcess(child);
    work.remove();
  }
}

async function onPostgres(machines: number): Promise<Measured> {
  const cluster = await startTestCluster(3, NO_RATE_LIMIT);
  try {
    const relay = await startLocalRelay(cluster.servers.map((s) => s.url));
    try {
      return await measured(
        () => simulate({ baseUrl: relay.url, machines, concurrency: CONCURRENCY, run: 1 }),
        "three servers on PostgreSQL behind nginx",
        [cluster.postgresDir],
      );
    } finally {
      await relay.stop();
    }
  } finally {
    await cluster.stop();
  }
}

export async function scaleFigures(machines = 10_000): Promise<Figure[]> {
  const { report: sqlite, cpu: sqliteCpu } = await onSqlite(machines);
  const { report: pg3, cpu: pg3Cpu } = await onPostgres(machines);
  const cores = availableParallelism();
  const describe = (r: SimulationReport, cpu: Measured["cpu"]): string =>
    `${r.calls} calls in ${r.seconds} s (${r.callsPerSecond}/s); p50/p99 ms: inventory ${r.latencyMs.inventory.p50}/${r.latencyMs.inventory.p99}, next ${r.latencyMs.next.p50}/${r.latencyMs.next.p99}, result ${r.latencyMs.result.p50}/${r.latencyMs.result.p99}; ${describeCpu(cpu, cores)}`;
  const count = machines.toLocaleString("en");
  return [
    {
      id: "scale.10k_next_p99_ms",
      value: sqlite.latencyMs.next.p99,
      unit: "ms",
      note: `${count} simulated machines, ${CONCURRENCY} at once, one server process on SQLite: ${describe(sqlite, sqliteCpu)}; every machine ready, every result applied once; goal ≤ 50`,
    },
    {
      id: "scale.10k_next_p99_ms_pg3",
      value: pg3.latencyMs.next.p99,
      unit: "ms",
      note: `the same against 3 server processes on PostgreSQL (fsync off, a test cluster) behind one nginx relay: ${describe(pg3, pg3Cpu)}`,
    },
    {
      id: "scale.pg3_vs_sqlite1_throughput",
      value: Number((pg3.callsPerSecond / sqlite.callsPerSecond).toFixed(2)),
      unit: "ratio",
      ours: pg3.callsPerSecond,
      baseline: sqlite.callsPerSecond,
      baseline_is: "one server on SQLite, same simulation, same run (calls/s)",
      note: `${count} machines; goal ≥ 1.3 on 2 cores; CPU per call (every process of the run, the load generator too) ${totalCpu(sqliteCpu)} µs on SQLite vs ${totalCpu(pg3Cpu)} µs on the cluster: where every process shares the same cores the ratio cannot pass ${(totalCpu(sqliteCpu) / Math.max(1, totalCpu(pg3Cpu))).toFixed(2)}`,
    },
  ];
}
