// The live events' hub: every event gets the next id, is kept in a bounded replay ring, and is handed to
// each subscriber at once. A client that reconnects with Last-Event-ID gets what it missed from the ring.
//
// Bounds (why a ring in memory is enough): what an event says is already durable in the store (the
// step log, the machine and run rows); the events only tell a client what changed. So the ring only has
// to cover a reconnect: the last `capacity` events (10,000 by default: minutes of a busy site). When the
// client's id is older than the ring, or from before a restart, it gets a `reset` event and refetches.
// Ids start at this process's start time in microseconds, so they keep increasing across restarts and
// an id from the previous run is recognized as such (below the ring's first id), never misread.
import type { LiveEvent, LiveEventType } from "../../protocol/index.js";
import { eventMachine } from "../../protocol/index.js";

/** An event before it has its id. */
export type NewLiveEvent = LiveEvent extends infer E
  ? E extends { type: LiveEventType }
    ? Omit<E, "id">
    : never
  : never;

/** What a subscriber wants: every machine's events, or one machine's. */
export interface EventFilter {
  machine?: string;
}

export type EventListener = (event: LiveEvent) => void;

export interface Subscription {
  /** The events the client missed since its Last-Event-ID, or a single reset when they are not held. */
  missed: LiveEvent[];
  close(): void;
}

export const DEFAULT_RING = 10_000;

export class EventBus {
  private readonly ring: LiveEvent[] = [];
  /** Where the next event goes in the ring, once it is full. */
  private head = 0;
  private nextId: number;
  /** The first id this process gave; anything below is from before it started. */
  readonly firstId: number;
  private readonly listeners = new Set<{ filter: EventFilter; listener: EventListener }>();

  constructor(
    private readonly capacity = DEFAULT_RING,
    startedAt = Date.now(),
  ) {
    this.firstId = startedAt * 1000;
    this.nextId = this.firstId;
  }

  /** The last id given (firstId - 1 before any). */
  get latestId(): number {
    return this.nextId - 1;
  }

  publish(event: NewLiveEvent): LiveEvent {
    const full: LiveEvent = { ...event, id: this.nextId++ };
    if (this.ring.length < this.capacity) this.ring.push(full);
    else {
      this.ring[this.head] = full;
      this.head = (this.head + 1) % this.capacity;
    }
    for (const { filter, listener } of this.listeners) if (matches(full, filter)) listener(full);
    return full;
  }

  /**
   * Listens from now on; `lastEventId` (a reconnect) also returns what came after it, filtered, or a
   * reset when that cannot be told exactly.
   */
  subscribe(filter: EventFilter, listener: EventListener, lastEventId?: number): Subscription {
    const entry = { filter, listener };
    this.listeners.add(entry);
    const close = (): void => {
      this.listeners.delete(entry);
    };
    if (lastEventId === undefined) return { missed: [], close };
    const oldest = this.oldestId();
    const reset = (reason: "unknown-id" | "too-old"): Subscription => ({
      missed: [{ id: this.latestId, type: "reset", data: { reason, latestId: this.latestId } }],
      close,
    });
    if (lastEventId > this.latestId) return reset("unknown-id");
    // From before this process started, or dropped from the ring: something may be lost in between.
    if (lastEventId < this.firstId - 1) return reset("unknown-id");
    if (lastEventId < oldest - 1) return reset("too-old");
    return { missed: this.since(lastEventId).filter((event) => matches(event, filter)), close };
  }

  /** How many clients listen now. */
  get subscribers(): number {
    return this.listeners.size;
  }

  private oldestId(): number {
    return this.ring.length < this.capacity ? this.firstId : (this.ring[this.head]?.id ?? this.firstId);
  }

  /** The held events after `id`, oldest first. */
  private since(id: number): LiveEvent[] {
    const ordered =
      this.ring.length < this.capacity
        ? this.ring
        : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
    // Ids are consecutive in the ring: the first wanted one is at a known place.
    const first = ordered[0]?.id ?? this.nextId;
    return ordered.slice(Math.max(0, id + 1 - first));
  }
}

function matches(event: LiveEvent, filter: EventFilter): boolean {
  if (filter.machine === undefined) return true;
  const machine = eventMachine(event);
  return machine === null || machine === filter.machine;
}
