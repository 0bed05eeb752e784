// The one place the store's changes become live events: a Store that watches each transaction's writes
// (step-log lines, machines' categories and expectations, maintenance runs) and, once it committed,
// publishes what changed. Every service writes through the store, so none of them publishes by hand,
// and nothing is published for a transaction that rolled back.
import type { LogEntry, MachineRows, Rows, RunRows, Store } from "../db/rows.js";
import type { Machine, MaintenanceRun } from "../../protocol/index.js";
import type { NewLiveEvent } from "./bus.js";

export type Publish = (event: NewLiveEvent) => void;

/** `inner` with each committed transaction's changes published. */
export function observedStore(inner: Store, publish: Publish): Store {
  return {
    kind: inner.kind,
    read: (fn) => inner.read(fn),
    sqlTransaction: (fn) => inner.sqlTransaction(fn),
    close: () => inner.close(),
    async transaction<T>(fn: (rows: Rows) => Promise<T>): Promise<T> {
      const { result, events } = await inner.transaction(async (rows) => {
        const watch = new TransactionWatch(rows);
        const result = await fn(watch.rows);
        return { result, events: await watch.changes(new Date().toISOString()) };
      });
      for (const event of events) publish(event);
      return result;
    },
  };
}

/** What one transaction wrote that clients see, read back at its end (still inside it). */
class TransactionWatch {
  readonly rows: Rows;
  private readonly steps: LogEntry[] = [];
  /** Machines whose category or expectation was written, as they were before (undefined: new). */
  private readonly machinesBefore = new Map<string, Pick<Machine, "category" | "expected"> | undefined>();
  private readonly runsBefore = new Map<string, Pick<MaintenanceRun, "state" | "report"> | undefined>();

  constructor(private readonly inner: Rows) {
    const none = (): Promise<undefined> => Promise.resolve(undefined);
    // Each wrapped table answers as the real one (its prototype) but for the writes watched here.
    const machines: MachineRows = Object.create(inner.machines) as MachineRows;
    machines.insert = async (machine) => {
      await remember(this.machinesBefore, machine.id, none);
      await inner.machines.insert(machine);
    };
    machines.update = async (id, patch) => {
      if ("category" in patch || "expected" in patch)
        await remember(this.machinesBefore, id, () => inner.machines.get(id));
      await inner.machines.update(id, patch);
    };
    const runs: RunRows = Object.create(inner.runs) as RunRows;
    runs.insert = async (run) => {
      await remember(this.runsBefore, run.id, none);
      await inner.runs.insert(run);
    };
    runs.update = async (runId, patch) => {
      if ("state" in patch || "report" in patch)
        await remember(this.runsBefore, runId, () => inner.runs.get(runId));
      await inner.runs.update(runId, patch);
    };
    const log: Rows["log"] = Object.create(inner.log) as Rows["log"];
    log.append = async (machineId, at, event, data) => {
      const entry = await inner.log.append(machineId, at, event, data);
      this.steps.push(entry);
      return entry;
    };
    this.rows = { ...inner, machines, runs, log };
  }

  /** The events for what changed, in order: categories, step lines, maintenance runs. */
  async changes(at: string): Promise<NewLiveEvent[]> {
    const events: NewLiveEvent[] = [];
    for (const [id, before] of this.machinesBefore) {
      const after = await this.inner.machines.get(id);
      if (after && (before?.category !== after.category || before.expected !== after.expected))
        events.push({
          type: "category",
          data: { machineId: id, category: after.category, expected: after.expected, at },
        });
    }
    for (const entry of this.steps)
      events.push({ type: "step", data: { machineId: entry.machineId, entry } });
    for (const [id, before] of this.runsBefore) {
      const after = await this.inner.runs.get(id);
      if (after && (before?.state !== after.state || (before.report === null) !== (after.report === null)))
        events.push({
          type: "maintenance",
          data: {
            machineId: after.machineId,
            runId: id,
            state: after.state,
            ...(after.report ? { report: after.report } : {}),
            at,
          },
        });
    }
    return events;
  }
}

/** Keeps a row as it was before the transaction first wrote it (undefined: the transaction made it). */
async function remember<T>(
  before: Map<string, T | undefined>,
  id: string,
  read: () => Promise<T | undefined>,
): Promise<void> {
  if (!before.has(id)) before.set(id, await read());
}
