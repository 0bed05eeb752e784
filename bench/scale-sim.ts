// The loader's side of 10,000 machines (or any number), for bench/scale.ts and the 500-machine test:
// each machine enrolls with a realistic inventory, is expected `ready` by the operator, polls `next`
// with its own credential, runs its check-disks lease and posts the result, and polls again until there
// is nothing left. A bounded number of machines talk at once (the others are "booting"); every call's
// latency is kept. Afterwards the boot list says whether each machine ended where it was expected.
import { BootListSummary, InventoryAccepted, NextAction, type Inventory } from "../protocol/index.js";
import { TEST_ADMIN_TOKEN } from "../server/test-support.js";

export interface SimulationSettings {
  /** The API: one server, or a relay in front of several. */
  baseUrl: string;
  machines: number;
  /** How many machines are talking at once. */
  concurrency: number;
  /** A prefix for this run's machines (serials and MACs), so runs on one store do not collide. */
  run: number;
}

export interface SimulationReport {
  machines: number;
  seconds: number;
  calls: number;
  callsPerSecond: number;
  latencyMs: Record<"inventory" | "expected" | "next" | "result", { p50: number; p99: number }>;
  /** Machines whose category is `ready` in the boot list afterwards. */
  ready: number;
  /** Results the server applied (not answered as duplicates): one per machine when nothing is lost. */
  applied: number;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Number((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0).toFixed(2));
}

/** A rack server as its loader reports it: two NICs, four disks, 256 GiB. */
function inventoryOf(run: number, n: number): Inventory {
  const hex = (v: number): string => v.toString(16).padStart(2, "0");
  const mac = `02:${hex(run)}:${hex((n >> 16) & 255)}:${hex((n >> 8) & 255)}:${hex(n & 255)}:01`;
  return {
    bootMac: mac,
    system: { manufacturer: "Acme", product: "R740", serial: `SIM-${run}-${n}`, uuid: null },
    cpu: { model: "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", logicalCount: 96 },
    memoryBytes: 256 * 2 ** 30,
    nics: [
      { name: "eno1", mac },
      { name: "eno2", mac: mac.replace(/01$/, "02") },
    ],
    disks: ["sda", "sdb", "nvme0n1", "nvme1n1"].map((name) => ({ name, sizeBytes: 960 * 10 ** 9 })),
  };
}

export async function simulate(settings: SimulationSettings): Promise<SimulationReport> {
  const { baseUrl } = settings;
  const latency: SimulationReport["latencyMs"] extends Record<infer K, unknown>
    ? Record<K, number[]>
    : never = { inventory: [], expected: [], next: [], result: [] };
  let calls = 0;
  let applied = 0;
  const call = async (
    kind: keyof typeof latency,
    path: string,
    token: string | null,
    method = "GET",
    body?: unknown,
  ): Promise<unknown> => {
    const started = performance.now();
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    latency[kind].push(performance.now() - started);
    calls++;
    // A relay's own refusal (nginx's 502 page) is HTML: say the status and what came, not a JSON error.
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as unknown;
  };

  const machine = async (n: number): Promise<void> => {
    const { machineId, credential } = InventoryAccepted.parse(
      await call("inventory", "/v1/inventory", null, "POST", inventoryOf(settings.run, n)),
    );
    await call("expected", `/v1/machines/${machineId}/expected`, TEST_ADMIN_TOKEN, "PUT", {
      category: "ready",
    });
    for (;;) {
      const next = NextAction.parse(await call("next", `/v1/machines/${machineId}/next`, credential));
      if (next.action !== "run") return; // nothing left: it is where it was expected
      const answer = (await call(
        "result",
        `/v1/machines/${machineId}/commands/${next.command.id}/result`,
        credential,
        "POST",
        {
          leaseId: next.command.leaseId,
          outcome: "succeeded",
          output: {
            kind: "check-disks",
            disks: ["sda", "sdb", "nvme0n1", "nvme1n1"].map((name) => ({
              name,
              sizeBytes: 960 * 10 ** 9,
              bytesRead: 2 ** 21,
              ms: 4,
            })),
          },
        },
      )) as { duplicate?: boolean };
      if (answer.duplicate === false) applied++;
    }
  };

  const started = performance.now();
  let nextMachine = 0;
  await Promise.all(
    Array.from({ length: settings.concurrency }, async () => {
      while (nextMachine < settings.machines) await machine(nextMachine++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const list = BootListSummary.parse(
    await (
      await fetch(`${baseUrl}/v1/boot-list`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    ).json(),
  );
  const ours = list.machines.filter((m) => m.inventory?.system.serial?.startsWith(`SIM-${settings.run}-`));
  const stats = (values: number[]): { p50: number; p99: number } => ({
    p50: percentile(values, 50),
    p99: percentile(values, 99),
  });
  return {
    machines: settings.machines,
    seconds: Number(seconds.toFixed(2)),
    calls,
    callsPerSecond: Math.round(calls / seconds),
    latencyMs: {
      inventory: stats(latency.inventory),
      expected: stats(latency.expected),
      next: stats(latency.next),
      result: stats(latency.result),
    },
    ready: ours.filter((m) => m.category === "ready").length,
    applied,
  };
}
