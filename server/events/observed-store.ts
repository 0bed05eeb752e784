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
  private readonly machinesBefore = new Map<string, Shown | undefined>();
  /**
   * The same machines as this transaction left them, kept from its own writes so the end needs no read
   * (a statement per machine a transaction changes: on PostgreSQL, a round trip each). "read": a removal
   * or rename made that unknowable without one.
   */
  private readonly machinesNow = new Map<string, Shown | undefined | "read">();
  /** What this transaction's reads returned before it wrote a machine: the "before" of a later write. */
  private readonly machinesRead = new Map<string, Shown | undefined>();
  private readonly runsBefore = new Map<string, Pick<MaintenanceRun, "state" | "report"> | undefined>();

  constructor(private readonly inner: Rows) {
    const none = (): Promise<undefined> => Promise.resolve(undefined);
    // Each wrapped table answers as the real one (its prototype) but for the writes watched here.
    const machines: MachineRows = Object.create(inner.machines) as MachineRows;
    const seen = (id: string, machine: Machine | undefined): void => {
      if (!this.machinesNow.has(id) && !this.machinesRead.has(id)) this.machinesRead.set(id, shown(machine));
    };
    machines.get = async (id) => {
      const machine = await inner.machines.get(id);
      seen(id, machine);
      return machine;
    };
    machines.lock = async (id, options) => {
      const machine = await inner.machines.lock(id, options);
      if (machine !== "busy") seen(id, machine);
      return machine;
    };
    machines.insert = async (machine) => {
      await remember(this.machinesBefore, machine.id, none);
      await inner.machines.insert(machine);
      this.machinesNow.set(machine.id, shown(machine));
    };
    machines.update = async (id, patch) => {
      if ("category" in patch || "expected" in patch) {
        await remember(this.machinesBefore, id, () =>
          this.machinesRead.has(id)
            ? Promise.resolve(this.machinesRead.get(id))
            : inner.machines.get(id).then(shown),
        );
        const was = this.machinesNow.has(id) ? this.machinesNow.get(id) : this.machinesBefore.get(id);
        // An update of a row that is not there changes nothing; one that is changes these two fields.
        this.machinesNow.set(
          id,
          was === undefined || was === "read"
            ? was
            : {
                category: "category" in patch ? (patch.category ?? was.category) : was.category,
                expected: "expected" in patch ? (patch.expected ?? null) : was.expected,
              },
        );
      }
      await inner.machines.update(id, patch);
    };
    machines.remove = async (id) => {
      if (this.machinesNow.has(id) || this.machinesBefore.has(id)) this.machinesNow.set(id, "read");
      return inner.machines.remove(id);
    };
    machines.rename = async (from, to) => {
      for (const id of [from, to])
        if (this.machinesNow.has(id) || this.machinesBefore.has(id)) this.machinesNow.set(id, "read");
      await inner.machines.rename(from, to);
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
      const now = this.machinesNow.get(id);
      const after = now === "read" ? shown(await this.inner.machines.get(id)) : now;
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

/** What the live events show of a machine. */
type Shown = Pick<Machine, "category" | "expected">;

function shown(machine: Machine | undefined): Shown | undefined {
  return machine && { category: machine.category, expected: machine.expected };
}

/** Keeps a row as it was before the transaction first wrote it (undefined: the transaction made it). */
async function remember<T>(
  before: Map<string, T | undefined>,
  id: string,
  read: () => Promise<T | undefined>,
): Promise<void> {
  if (!before.has(id)) before.set(id, await read());
}
