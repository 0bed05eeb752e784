// events.fanout_1k_clients_p99_ms: one event to 1,000 clients of GET /v1/events, p99 of the delay from
// the change's commit (the event's `at`) to each client reading it. The server is its own process (as
// deployed) and the 1,000 clients share this one. Baseline, same run, same clients: a bare node:net
// process that writes a frame of the same size to 1,000 open loopback sockets (nothing but the writes).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  freePort,
  inventoryFor,
  killProcess,
  spawnServerProcess,
  TEST_ADMIN_TOKEN,
} from "../server/test-support.js";
import { median, type Figure } from "./figures.js";

const CLIENTS = 1_000;
const EVENTS_PER_RUN = 20;
const RUNS = 3;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Reads SSE frames from a byte stream: calls `onAt` with the `at` (ms since the epoch) of every frame
 * of type `wanted`, at the moment the frame is read.
 */
function frameReader(wanted: string, onAt: (at: number) => void): (chunk: Buffer) => void {
  let buffer = "";
  return (chunk) => {
    buffer += chunk.toString("utf8");
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!frame.includes(`event: ${wanted}\n`)) continue;
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      const at: unknown = data ? (JSON.parse(data) as { at?: unknown }).at : undefined;
      onAt(typeof at === "number" ? at : Date.parse(String(at)));
    }
  };
}

/** Delays seen by the clients for each trigger: one list per event, each of CLIENTS delays. */
async function measure(trigger: () => Promise<void>, delays: number[]): Promise<number[]> {
  const per: number[] = [];
  for (let i = 0; i < EVENTS_PER_RUN; i++) {
    const before = delays.length;
    await trigger();
    const deadline = Date.now() + 10_000;
    while (delays.length < before + CLIENTS && Date.now() < deadline) await delay(2);
    if (delays.length < before + CLIENTS)
      throw new Error(`only ${delays.length - before} of ${CLIENTS} clients got event ${i}`);
    per.push(percentile(delays.slice(before), 99));
    await delay(50); // let the connections go quiet between events
  }
  return per;
}

async function ours(): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-events-"));
  const port = await freePort();
  let server: ChildProcess | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS + 8 });
  try {
    server = await spawnServerProcess(dir, port, { BOOTWRIGHT_RATE_LIMIT_BURST: "0" });
    const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const call = async (path: string, method: string, body: unknown): Promise<void> => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}`);
    };
    const mac = "52:54:00:be:00:01";
    await call("/v1/inventory", "POST", inventoryFor(mac, { product: "X1", serial: "bench", uuid: null }));
    const delays: number[] = [];
    let open = 0;
    for (let i = 0; i < CLIENTS; i++) {
      const read = frameReader("category", (at) => delays.push(Date.now() - at));
      request({ host: "127.0.0.1", port, path: "/v1/events", headers: auth, agent }, (res) => {
        open++;
        res.on("data", read);
      }).end();
    }
    const deadline = Date.now() + 60_000;
    while (open < CLIENTS && Date.now() < deadline) await delay(20);
    if (open < CLIENTS) throw new Error(`only ${open} of ${CLIENTS} event streams opened`);
    // Each trigger changes the machine's expected category: one category event (and its step lines).
    let flip = false;
    const per = await measure(async () => {
      flip = !flip;
      await call(`/v1/machines/${mac}/expected`, "PUT", { category: flip ? "ready" : null });
    }, delays);
    return per;
  } finally {
    agent.destroy();
    await killProcess(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bare writer: holds the sockets, writes one frame to all of them for each line on stdin. */
const BASELINE_SERVER = `
const net = require("node:net");
const sockets = [];
const server = net.createServer((s) => { sockets.push(s); s.on("error", () => {}); });
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
process.stdin.on("data", () => {
  const frame = "id: 1\\nevent: category\\ndata: " + JSON.stringify({ machineId: "52:54:00:be:00:01", category: "inventoried", expected: "ready", at: Date.now() }) + "\\n\\n";
  for (const s of sockets) s.write(frame);
});
`;

async function baseline(): Promise<number[]> {
  const child = spawn(process.execPath, ["-e", BASELINE_SERVER], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve) => {
      child.stdout.once("data", (d: Buffer) => {
        resolve(Number(String(d).trim()));
      });
    });
    const delays: number[] = [];
    let open = 0;
    for (let i = 0; i < CLIENTS; i++) {
      const socket = connect(port, "127.0.0.1", () => open++);
      socket.on(
        "data",
        frameReader("category", (at) => delays.push(Date.now() - at)),
      );
    }
    while (open < CLIENTS) await delay(20);
    await delay(200); // every connection accepted on the other side
    return await measure(async () => {
      child.stdin.write("go\n");
      await Promise.resolve();
    }, delays);
  } finally {
    child.kill("SIGKILL");
  }
}

export async function eventFigures(): Promise<Figure[]> {
  const oursP99: number[] = [];
  const baseP99: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    oursP99.push(median(await ours()));
    baseP99.push(median(await baseline()));
  }
  const value = median(oursP99);
  const base = median(baseP99);
  return [
    {
      id: "events.fanout_1k_clients_p99_ms",
      value,
      unit: "ms",
      ours: value,
      baseline: base,
      baseline_is:
        "a bare node:net process writing a same-size frame to 1,000 loopback sockets, same clients",
      note: `p99 over ${CLIENTS} clients per event, median of ${EVENTS_PER_RUN} events, median of ${RUNS} runs (ours by run: ${oursP99.join(", ")}; ratio ${(value / Math.max(base, 1)).toFixed(1)} with the baseline floored at 1 ms, the clock's resolution); goal ≤ 100`,
    },
  ];
}
