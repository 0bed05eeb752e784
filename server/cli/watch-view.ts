// What `bootwright watch` shows of each machine, from the live events (pure): its category, its current
// step and its transfer (bytes, total, rate), and whether the watch is over (`--until`).
import type { BootCategory, LiveEvent, Machine, ProgressEvent, StepLogEntry } from "../../protocol/index.js";
import { formatBytes } from "./format.js";

export interface MachineView {
  id: string;
  category: BootCategory;
  step: string;
  transfer: Pick<ProgressEvent, "kind" | "bytesDone" | "bytesTotal" | "bytesPerSecond"> | null;
}

/** Categories with work going on: a machine in one of them gets a bar. */
const IN_FLIGHT = new Set<BootCategory>(["configuring", "imaging", "capturing", "maintenance", "released"]);

export function inFlight(view: MachineView): boolean {
  return IN_FLIGHT.has(view.category) || view.transfer !== null;
}

/** A step-log line in a few words: "image-stream/write started", "category imaging", "command-leased". */
export function describeStep(entry: StepLogEntry): string {
  const { data } = entry;
  if (entry.event === "category") return `now ${String(data.to)}`;
  if (entry.event.startsWith("agent-") && typeof data.plugin === "string")
    return `${data.plugin}/${String(data.step)}: ${String(data.message)}`;
  if (typeof data.kind === "string") return `${entry.event} ${data.kind}`;
  return entry.event;
}

export function describeTransfer(transfer: NonNullable<MachineView["transfer"]>): string {
  const done = formatBytes(transfer.bytesDone);
  const of = transfer.bytesTotal === null ? "" : ` of ${formatBytes(transfer.bytesTotal)}`;
  const rate = transfer.bytesPerSecond === null ? "" : `, ${formatBytes(transfer.bytesPerSecond)}/s`;
  return `${transfer.kind} ${done}${of}${rate}`;
}

/** The watched machines: all (no selection) or a chosen set, kept current by the events. */
export class WatchedMachines {
  readonly views = new Map<string, MachineView>();

  constructor(
    /** Whether a machine belongs to the watch (its id, or a fact). */
    private readonly selects: (machine: Machine) => boolean,
  ) {}

  /** Takes the boot list as it is now (at the start, and after a reset). */
  load(machines: readonly Machine[]): void {
    for (const machine of machines)
      if (this.selects(machine)) {
        const before = this.views.get(machine.id);
        this.views.set(machine.id, {
          id: machine.id,
          category: machine.category,
          step: before?.step ?? "",
          transfer: before?.transfer ?? null,
        });
      }
  }

  /** Whether a machine the watch has not seen yet may belong to it (it is then fetched and `load`ed). */
  unknown(event: LiveEvent): string | undefined {
    if (event.type === "reset" || this.views.has(event.data.machineId)) return undefined;
    return event.data.machineId;
  }

  /** Applies an event; the view it changed, if it is a watched machine's. */
  apply(event: LiveEvent): MachineView | undefined {
    if (event.type === "reset") return undefined;
    const view = this.views.get(event.data.machineId);
    if (!view) return undefined;
    switch (event.type) {
      case "category":
        view.category = event.data.category;
        // The transfer of the category it left is over.
        if (!IN_FLIGHT.has(view.category)) view.transfer = null;
        break;
      case "step":
        view.step = describeStep(event.data.entry);
        break;
      case "progress": {
        const { kind, bytesDone, bytesTotal, bytesPerSecond } = event.data;
        view.transfer = { kind, bytesDone, bytesTotal, bytesPerSecond };
        break;
      }
      case "maintenance":
        view.step = `maintenance run ${event.data.state}`;
        break;
    }
    return view;
  }

  /** With --until: "done" when every watched machine is there, "failed" when one failed on the way. */
  outcome(until: BootCategory): "done" | "failed" | "waiting" {
    const views = [...this.views.values()];
    if (until !== "failed" && views.some((v) => v.category === "failed")) return "failed";
    return views.length > 0 && views.every((v) => v.category === until) ? "done" : "waiting";
  }
}
