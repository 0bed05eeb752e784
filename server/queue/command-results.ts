// What a posted command result does (pure): apply it once, recognise a retried post, or refuse it.
import {
  checkTransition,
  type BootCategory,
  type CommandKind,
  type CommandResult,
  type CommandState,
  type Inventory,
} from "../../protocol/index.js";

export interface StoredCommand {
  id: string;
  kind: CommandKind;
  state: CommandState;
  onSuccess: BootCategory;
  leaseId: string | null;
  leaseExpiresAt: string | null;
}

export type ResultDecision =
  | {
      kind: "apply";
      state: "succeeded" | "failed";
      category: BootCategory;
      /** A failure clears the expectation: the reconciler must not retry in a loop; the operator decides. */
      clearExpected: boolean;
      inventory: Inventory | null;
      error: string | null;
    }
  | { kind: "duplicate" }
  | { kind: "refuse"; reason: string };

/** A failed command fails the machine with the reason and clears its expectation. */
function failure(error: string): ResultDecision {
  return { kind: "apply", state: "failed", category: "failed", clearExpected: true, inventory: null, error };
}

export function decideResult(
  command: StoredCommand,
  current: BootCategory,
  result: CommandResult,
  now: Date,
): ResultDecision {
  switch (command.state) {
    case "succeeded":
    case "failed":
      return command.leaseId === result.leaseId && command.state === result.outcome
        ? { kind: "duplicate" }
        : {
            kind: "refuse",
            reason: `command ${command.id} already ${command.state} under another lease or outcome`,
          };
    case "cancelled":
      return {
        kind: "refuse",
        reason: `command ${command.id} was cancelled (the machine's expected category changed)`,
      };
    case "queued":
      return {
        kind: "refuse",
        reason: `lease ${result.leaseId} expired; command ${command.id} went back to the queue`,
      };
    case "leased":
      break;
  }
  if (command.leaseId !== result.leaseId) {
    return {
      kind: "refuse",
      reason: `lease ${result.leaseId} is not the current lease of command ${command.id}`,
    };
  }
  if (command.leaseExpiresAt !== null && now.toISOString() > command.leaseExpiresAt) {
    return { kind: "refuse", reason: `lease ${result.leaseId} expired at ${command.leaseExpiresAt}` };
  }
  if (result.outcome === "failed") return failure(result.error);
  if (result.output.kind !== command.kind) {
    return {
      kind: "refuse",
      reason: `output is for ${result.output.kind} but command ${command.id} is ${command.kind}`,
    };
  }
  const move = checkTransition(current, command.onSuccess);
  if (!move.ok) {
    return failure(move.reason);
  }
  return {
    kind: "apply",
    state: "succeeded",
    category: command.onSuccess,
    clearExpected: false,
    inventory: result.output.kind === "report-inventory" ? result.output.inventory : null,
    error: null,
  };
}
