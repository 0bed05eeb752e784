// queue.commands_per_s_chained: the bench's machines with two commands queued each, run the old way (GET
// next + result per command) and with each result's answer leasing the next command (`?next=1`),
// alternating rounds on the same server so that the load others put on the machine hits both alike.
import type { ChildProcess } from "node:child_process";
import type {
  CommandResult,
  CommandResultAccepted,
  Inventory,
  LeasedCommand,
  NextAction,
} from "../protocol/index.js";
import { processCpuMs } from "./cpu-profile.js";
import { percentile, type Figure } from "./figures.js";

/** One way of running every machine's two commands, measured. */
export interface CommandRun {
  commandsPerSecond: number;
  /** HTTP requests per command. */
  requestsPerCommand: number;
  /** Per command, ms: from asking (or the answer that leased it) to its result's answer. */
  p50: number;
  p99: number;
  /** The server process's CPU time per command, µs. */
  serverCpuUs: number;
}

export interface ChainedRounds {
  chained: CommandRun;
  /** The same two commands per machine, each by GET next + result. */
  unchained: CommandRun;
  rounds: number;
}

/** What the round trips' client gives: an HTTP call under a token, the JSON answer back. */
export type Call = (path: string, method?: string, body?: unknown, token?: string) => Promise<unknown>;

const ROUNDS = 3;

/** Bench machine i's inventory (its MAC is its id): what it enrolls with and reports again. */
export function benchInventory(i: number): Inventory {
  const mac = `52:54:00:00:${Math.floor(i / 256)
    .toString(16)
    .padStart(2, "0")}:${(i % 256).toString(16).padStart(2, "0")}`;
  return {
    bootMac: mac,
    system: { manufacturer: "Bench", product: "B1", serial: `S${i}`, uuid: null },
    cpu: { model: "x", logicalCount: 1 },
    memoryBytes: 2 ** 30,
    nics: [{ name: "eth0", mac }],
    disks: [{ name: "vda", sizeBytes: 2 ** 30 }],
  };
}

/** The result a bench machine posts for its command: success, with the output its kind has. */
export function benchResult(command: LeasedCommand, i: number): CommandResult {
  return command.kind === "report-inventory"
    ? {
        leaseId: command.leaseId,
        outcome: "succeeded",
        output: { kind: "report-inventory", inventory: benchInventory(i) },
      }
    : {
        leaseId: command.leaseId,
        outcome: "succeeded",
        output: {
          kind: "check-disks",
          disks: [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 1 }],
        },
      };
}

/** Runs `work(i)` for every machine index, `concurrency` at a time. */
async function eachMachine(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
}

/**
 * ROUNDS × (unchained, chained) on machines that are ready (after the round trips): each round first
 * queues report-inventory and check-disks on every machine, the way a failed machine expected ready
 * again gets them (not measured: a failed report-inventory per machine puts it there). Each way's
 * figures are those of its median round by commands per second.
 */
export async function chainedRounds(
  ids: readonly string[],
  credentials: ReadonlyMap<string, string>,
  call: Call,
  server: ChildProcess,
  concurrency: number,
): Promise<ChainedRounds> {
  const where = { path: "inventory.system.product", equals: "B1" };
  const next = async (id: string, credential: string): Promise<LeasedCommand> => {
    const action = (await call(`/v1/machines/${id}/next`, "GET", undefined, credential)) as NextAction;
    if (action.action !== "run") throw new Error(`machine ${id} had nothing queued`);
    return action.command;
  };
  const queueTwo = async (): Promise<void> => {
    await call("/v1/expected", "POST", { category: "inventoried", where });
    await eachMachine(ids.length, concurrency, async (i) => {
      const id = ids[i] ?? "";
      const credential = credentials.get(id) ?? "";
      const command = await next(id, credential);
      const failed = { leaseId: command.leaseId, outcome: "failed", error: "bench: queue two again" };
      await call(`/v1/machines/${id}/commands/${command.id}/result`, "POST", failed, credential);
    });
    await call("/v1/expected", "POST", { category: "ready", where });
  };
  const measure = async (chained: boolean): Promise<CommandRun> => {
    const latencies: number[] = [];
    let commands = 0;
    let requests = 0;
    const query = chained ? "?next=1" : "";
    const started = performance.now();
    const cpuBefore = processCpuMs(server);
    await eachMachine(ids.length, concurrency, async (i) => {
      const id = ids[i] ?? "";
      const credential = credentials.get(id) ?? "";
      let asked = performance.now();
      let command: LeasedCommand | null | undefined = await next(id, credential);
      requests++;
      // Unchained, the client would ask once more to learn the queue is empty; not counted (the
      // chained client, told by null, polls again when idle too): the comparison favours unchained.
      for (let done = 1; command; done++) {
        const path = `/v1/machines/${id}/commands/${command.id}/result${query}`;
        const body = benchResult(command, i);
        const answer = (await call(path, "POST", body, credential)) as CommandResultAccepted;
        requests++;
        commands++;
        latencies.push(performance.now() - asked);
        asked = performance.now();
        if (chained) command = answer.next;
        else if (done === 2) command = null;
        else {
          command = await next(id, credential);
          requests++;
        }
      }
    });
    const cpuMs = processCpuMs(server) - cpuBefore;
    const seconds = (performance.now() - started) / 1000;
    if (commands !== ids.length * 2) throw new Error(`${commands} commands ran, not two per machine`);
    return {
      commandsPerSecond: Math.round(commands / seconds),
      requestsPerCommand: Number((requests / commands).toFixed(2)),
      p50: Number(percentile(latencies, 50).toFixed(1)),
      p99: Number(percentile(latencies, 99).toFixed(1)),
      serverCpuUs: Math.round((cpuMs / commands) * 1000),
    };
  };
  const runs: { chained: CommandRun[]; unchained: CommandRun[] } = { chained: [], unchained: [] };
  for (let round = 0; round < ROUNDS; round++) {
    await queueTwo();
    runs.unchained.push(await measure(false));
    await queueTwo();
    runs.chained.push(await measure(true));
  }
  const median = (all: CommandRun[]): CommandRun => {
    const sorted = [...all].sort((a, b) => a.commandsPerSecond - b.commandsPerSecond);
    const middle = sorted[Math.floor(sorted.length / 2)];
    if (!middle) throw new Error("no rounds ran");
    return middle;
  };
  return { chained: median(runs.chained), unchained: median(runs.unchained), rounds: ROUNDS };
}

/** queue.commands_per_s_chained, with the unchained way in the same run as its baseline. */
export function chainedFigure(rounds: ChainedRounds, healthzPerSecond: number, concurrency: number): Figure {
  const { chained, unchained } = rounds;
  const way = (run: CommandRun): string =>
    `${run.requestsPerCommand} requests per command, p50 ${run.p50} ms, p99 ${run.p99} ms per command, server CPU ${run.serverCpuUs} µs per command`;
  return {
    id: "queue.commands_per_s_chained",
    value: chained.commandsPerSecond,
    unit: "1/s",
    ours: chained.commandsPerSecond,
    baseline: unchained.commandsPerSecond,
    baseline_is:
      "the same two commands per machine, each by GET next + result, alternating rounds on the same server",
    note: `median of ${rounds.rounds} rounds each way, alternating; every machine with two commands queued (report-inventory, check-disks), ${concurrency} concurrent clients, SQLite. Chained (GET next for a machine's first command, then each result posted with ?next=1, its answer leasing the next): ${way(chained)}. Unchained: ${way(unchained)}. ${(chained.commandsPerSecond / unchained.commandsPerSecond).toFixed(2)}× commands/s. A machine with n commands queued makes n + 1 requests chained, 2n unchained: 1 per command in steady state, so this machine's HTTP bound (${healthzPerSecond} GET /healthz/s) becomes ${Math.round(healthzPerSecond / chained.requestsPerCommand)} commands/s at ${chained.requestsPerCommand} requests per command and ${healthzPerSecond}/s at 1 (it was ${Math.round(healthzPerSecond / 2)}/s at 2); goal with queue.roundtrips_per_s's ≥ 2,000/s, p99 ≤ 20 ms`,
  };
}
