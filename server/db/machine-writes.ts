// What the store's other parts (the maintenance swap) may do to a machine inside the store's own
// transaction: the SqliteStore implements it with its private statements, so there is one way to log,
// move a category, queue or lease a command.
import type { BootCategory, CommandKind, CommandState, Machine } from "../../protocol/index.js";

export interface PendingCommand {
  id: string;
  kind: CommandKind;
  state: Extract<CommandState, "queued" | "leased">;
  leaseId: string | null;
  leaseExpiresAt: string | null;
}

export interface MachineWrites {
  find(id: string): Machine | undefined;
  all(): Machine[];
  log(machineId: string, at: string, event: string, data: Record<string, unknown>): void;
  setCategory(machine: Machine, category: BootCategory, at: string, why: string): void;
  /** Sets the expected category and reconciles the machine's queue to it. */
  setExpected(machine: Machine, expected: BootCategory | null, at: string): void;
  /** Fails the machine with the reason, clears its expectation, cancels its queue. */
  fail(machine: Machine, at: string, why: string): void;
  /** Queues a command outside the reconciler; `leaseUntil` fixes when its lease ends. */
  enqueue(
    machineId: string,
    kind: CommandKind,
    onSuccess: BootCategory,
    at: string,
    leaseUntil?: string,
  ): string;
  cancel(machineId: string, commandId: string, at: string): void;
  /** The machine's queued and leased commands, in queue order. */
  pending(machineId: string): PendingCommand[];
  /** Leases a queued command on the machine's behalf (the server reboots it itself). */
  lease(machineId: string, commandId: string, when: Date, leaseMs: number): void;
}
