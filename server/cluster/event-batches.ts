// Live events travel between servers in batches: what this server published during one turn of its
// event loop goes out as one message (one NOTIFY), not one each. Under load a turn publishes dozens of
// events (a result alone is a category change and its step lines), and every message costs a statement
// here and a wake-up in every other server; batching is what keeps a cluster's fan-out from growing with
// its event rate. Batches go out one after another, so the others see this server's events in order.
import * as z from "zod";
import { LiveEvent } from "../../protocol/index.js";

/** One batch of one server's events, as it travels between servers. */
export const EventBatch = z.strictObject({ origin: z.string(), events: z.array(LiveEvent).min(1) });
export type EventBatch = z.infer<typeof EventBatch>;

/**
 * Under NOTIFY's 8000-byte payload with room for the envelope: a batch is cut before it grows past this.
 * A single event larger than it still goes (alone), through the coordination's long-message path.
 */
const BATCH_BYTES = 7_500;

export class EventOutbox {
  private pending: string[] = [];
  private sending: Promise<void> = Promise.resolve();
  private scheduled = false;

  constructor(
    private readonly origin: string,
    private readonly send: (message: string) => Promise<void>,
    private readonly failed: (err: unknown) => void,
  ) {}

  /** Queues one event (already serialized); it leaves with the others of this turn. */
  add(event: LiveEvent): void {
    this.pending.push(JSON.stringify(event));
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const events = this.pending;
      this.pending = [];
      this.sending = this.sending.then(() => this.sendAll(events));
    });
  }

  /** Resolves once everything added so far has been sent (or failed): for a clean stop. */
  async drained(): Promise<void> {
    while (this.scheduled) await new Promise((done) => setImmediate(done));
    await this.sending;
  }

  private async sendAll(events: readonly string[]): Promise<void> {
    for (const batch of batchesOf(events)) {
      try {
        await this.send(`{"origin":${JSON.stringify(this.origin)},"events":[${batch.join(",")}]}`);
      } catch (err) {
        this.failed(err); // this batch is not seen elsewhere; SSE clients re-read state on their next event
      }
    }
  }
}

/** Consecutive runs of `events` each under BATCH_BYTES (an event larger than that is a run of its own). */
export function batchesOf(events: readonly string[]): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = Buffer.byteLength(event) + 1;
    if (current.length > 0 && bytes + size > BATCH_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The events of a message from another server, or undefined for this server's own message (which PostgreSQL
 * delivers to its sender too: skipped before any validation) or an unreadable one.
 */
export function othersEvents(
  message: string,
  origin: string,
): { events: LiveEvent[] } | { own: true } | { unreadable: number } {
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return { unreadable: 1 };
  }
  if (typeof raw === "object" && raw !== null && "origin" in raw && raw.origin === origin)
    return { own: true };
  const parsed = EventBatch.safeParse(raw);
  return parsed.success ? { events: parsed.data.events } : { unreadable: parsed.error.issues.length };
}
