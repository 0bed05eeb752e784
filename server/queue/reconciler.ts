// The reconciler (seed 000), pure: boot list + expected categories → difference list → the commands
// that close each difference. Same input, same output; a machine at its expected category gets nothing.
import {
  canReach,
  type BootCategory,
  type CommandKind,
  type Difference,
  type Retirement,
} from "../../protocol/index.js";

export interface MachineState {
  id: string;
  category: BootCategory;
  expected: BootCategory | null;
  /** Set while it is retired (issue 18): no command plans or installs it. Absent: not retired. */
  retired?: Retirement | null;
}

export interface PlannedCommand {
  kind: CommandKind;
  onSuccess: BootCategory;
}

/**
 * The moves a command can make. resolve-policy is the server's own step (done while reconciling); the
 * others are leased to the machine's agent. boot-installed is completed by the installed OS calling home.
 */
const COMMAND_EDGES: readonly { from: BootCategory; to: BootCategory; kind: CommandKind }[] = [
  { from: "discovered", to: "inventoried", kind: "report-inventory" },
  { from: "failed", to: "inventoried", kind: "report-inventory" },
  { from: "ready", to: "inventoried", kind: "report-inventory" },
  { from: "inventoried", to: "ready", kind: "check-disks" },
  { from: "ready", to: "planned", kind: "resolve-policy" },
  { from: "planned", to: "configuring", kind: "run-agent" },
  { from: "configuring", to: "imaging", kind: "write-image" },
  { from: "imaging", to: "installed", kind: "boot-installed" },
  // The swap back after maintenance (seed 001): reboot into the original system, which calls home.
  { from: "maintenance", to: "installed", kind: "boot-installed" },
  // A release (issue 18): the loader erases the disks, from wherever the machine is (mid-install, its
  // pending commands are cancelled first by the reconciliation that queues this one).
  ...(
    ["inventoried", "ready", "planned", "configuring", "imaging", "capturing", "installed", "failed"] as const
  ).map((from) => ({ from, to: "released" as const, kind: "erase-disks" as const })),
  { from: "released", to: "inventoried", kind: "report-inventory" },
];

/**
 * The category a machine shows while its agent runs a command, so the boot list says what it is doing
 * (the command's success then keeps it there until the next command moves it on).
 */
export function categoryWhileRunning(kind: CommandKind): BootCategory | undefined {
  if (kind === "run-agent") return "configuring";
  if (kind === "write-image") return "imaging";
  return undefined;
}

/**
 * Whether an expired lease goes back to the queue. boot-installed does not: its lease is the time the
 * installed OS has to call home, and rebooting it again would not make a broken install boot.
 */
export function retryOnExpiry(kind: CommandKind): boolean {
  // run-maintenance neither: its lease is the run's deadline.
  return kind !== "boot-installed" && kind !== "run-maintenance";
}

export interface LeaseDurations {
  /** Most commands. */
  defaultMs: number;
  /** write-image: the whole transfer. */
  writeImageMs: number;
  /** boot-installed: reboot until the installed OS calls home. */
  callHomeMs: number;
}

export function leaseMsFor(kind: CommandKind, durations: LeaseDurations): number {
  // Both stream a whole disk: a full erase writes and reads back every byte, as long as an image write.
  if (kind === "write-image" || kind === "erase-disks") return durations.writeImageMs;
  if (kind === "boot-installed") return durations.callHomeMs;
  return durations.defaultMs;
}

/** Steps the server itself takes while reconciling; they are never leased to an agent. */
export function isServerSide(kind: CommandKind): boolean {
  return kind === "resolve-policy";
}

/** The shortest chain of commands from one category to another (BFS over COMMAND_EDGES). */
export function commandPath(from: BootCategory, to: BootCategory): PlannedCommand[] | undefined {
  const previous = new Map<BootCategory, { via: BootCategory; kind: CommandKind }>();
  const queue: BootCategory[] = [from];
  const seen = new Set<BootCategory>([from]);
  while (queue.length > 0) {
    const at = queue.shift();
    if (at === undefined || at === to) break;
    for (const edge of COMMAND_EDGES) {
      if (edge.from !== at || seen.has(edge.to)) continue;
      seen.add(edge.to);
      previous.set(edge.to, { via: at, kind: edge.kind });
      queue.push(edge.to);
    }
  }
  if (!seen.has(to)) return undefined;
  const path: PlannedCommand[] = [];
  for (let at = to; at !== from;) {
    const step = previous.get(at);
    if (!step) return undefined;
    path.unshift({ kind: step.kind, onSuccess: at });
    at = step.via;
  }
  return path;
}

function blockedReason(from: BootCategory, to: BootCategory): string {
  if (to === "failed") return "failed is an outcome, not something to expect";
  return canReach(from, to)
    ? `no command moves a machine from ${from} to ${to} yet`
    : `no sequence of commands leads from ${from} to ${to}`;
}

/**
 * Whether a command plans or installs the machine, which a retired machine never gets. Inventory and
 * disk checks only look; the return from a maintenance swap restores the system already there.
 */
function plansOrInstalls(from: BootCategory, command: PlannedCommand): boolean {
  if (command.kind === "boot-installed") return from !== "maintenance";
  return command.kind === "resolve-policy" || command.kind === "run-agent" || command.kind === "write-image";
}

function retiredReason(id: string, retired: Retirement): string {
  return `retired by ${retired.by} at ${retired.at}: it is not planned or installed (bootwright unretire ${id})`;
}

/** One machine's difference, or undefined when it is where it is expected (or nothing is expected). */
export function differenceOf(machine: MachineState): Difference | undefined {
  if (machine.expected === null || machine.expected === machine.category) return undefined;
  // A failed machine is retried only because the operator set its expectation again: a failure clears it.
  const path = commandPath(machine.category, machine.expected);
  const { retired } = machine;
  // Retired: the whole path waits, not only its last steps (no disk check left waiting for a plan).
  if (retired && path?.some((command) => plansOrInstalls(machine.category, command)))
    return {
      machineId: machine.id,
      current: machine.category,
      expected: machine.expected,
      commands: [],
      blocked: retiredReason(machine.id, retired),
    };
  return {
    machineId: machine.id,
    current: machine.category,
    expected: machine.expected,
    commands: path ?? [],
    blocked: path ? null : blockedReason(machine.category, machine.expected),
  };
}

/** The difference list, in machine id order. */
export function reconcile(machines: readonly MachineState[]): Difference[] {
  return machines
    .map(differenceOf)
    .filter((d): d is Difference => d !== undefined)
    .sort((a, b) => (a.machineId < b.machineId ? -1 : a.machineId > b.machineId ? 1 : 0));
}

/**
 * How a machine's pending commands must change to match its difference: keep them when they already
 * are the planned sequence (so reconciling twice changes nothing), else cancel them and queue the plan.
 */
export function queueChanges(
  difference: Difference | undefined,
  pending: readonly (PlannedCommand & { id: string })[],
): { cancel: string[]; enqueue: PlannedCommand[] } {
  // Server-side steps are done while reconciling (the store resolves the policy), never queued.
  const planned = (difference?.commands ?? []).filter((cmd) => !isServerSide(cmd.kind));
  const same =
    planned.length === pending.length &&
    planned.every((cmd, i) => {
      const queued = pending[i];
      return queued !== undefined && cmd.kind === queued.kind && cmd.onSuccess === queued.onSuccess;
    });
  if (same) return { cancel: [], enqueue: [] };
  return { cancel: pending.map((cmd) => cmd.id), enqueue: [...planned] };
}
