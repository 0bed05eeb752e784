// The loader's enrollment: post the inventory until the server enrolls this machine. An answer that it
// waits (403 awaiting_approval: approve or allowlist mode, or hardware changed under a known identity;
// 409 enrollment_held: its identity's agent holds a live lease) is not a failure: the console says
// "awaiting approval" and why, and the loader asks again every few seconds (the server's retryAfterMs)
// until an operator approves it (`bootwright approve`) or the lease ends. Anything else is retried with
// backoff, as before.
import { EnrollmentRefusal, hasCode, type Inventory, type InventoryAccepted } from "../../protocol/index.js";
import { sleep } from "../shared/backoff.js";
import { say } from "./console.js";
import { postInventory, withRetry } from "./server-client.js";

/** Never poll faster than this, whatever the server says. */
const MIN_RETRY_MS = 1_000;
const DEFAULT_RETRY_MS = 5_000;

/** The server's word that this machine waits, or undefined for any other failure. */
export function waitingRefusal(err: unknown): (EnrollmentRefusal & { code: string }) | undefined {
  if (!hasCode(err, "http_status")) return undefined;
  const code = err.context.serverCode;
  if (code !== "awaiting_approval" && code !== "enrollment_held") return undefined;
  const details = EnrollmentRefusal.safeParse(err.context.serverDetails);
  return details.success
    ? { ...details.data, code }
    : { machineId: "?", reason: err.context.serverMessage ?? code, retryAfterMs: DEFAULT_RETRY_MS, code };
}

/**
 * Whether the server no longer takes this loader's enrollment (its credential revoked, or the machine
 * renamed when its UUID proved shared): the loader enrolls again rather than retry a call that cannot work.
 */
export function enrollmentLost(err: unknown): boolean {
  if (!hasCode(err, "http_status")) return false;
  const code = err.context.serverCode;
  return code === "unauthenticated" || code === "wrong_machine" || code === "not_found";
}

export async function enroll(
  serverUrl: string,
  inventory: Inventory,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<InventoryAccepted> {
  let lastReason: string | undefined;
  for (let tries = 1; ; tries++) {
    try {
      return await withRetry(
        "POST /v1/inventory",
        () => postInventory(serverUrl, inventory),
        (err) => waitingRefusal(err) !== undefined,
      );
    } catch (err) {
      const waiting = waitingRefusal(err);
      if (!waiting) throw err;
      const retryMs = Math.max(MIN_RETRY_MS, waiting.retryAfterMs);
      say("warn", "awaiting approval", {
        machine: waiting.machineId,
        code: waiting.code,
        // The reason once (and again when it changes): the console is small.
        reason: waiting.reason === lastReason ? undefined : waiting.reason,
        attempt: tries,
        retryInSeconds: (retryMs / 1000).toFixed(1),
      });
      lastReason = waiting.reason;
      await wait(retryMs);
    }
  }
}
