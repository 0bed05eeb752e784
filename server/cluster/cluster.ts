// This server among the others on its store: it registers itself and renews its row and duties every
// third of the lease (so two missed heartbeats still hold them), tells its periodic work whether it holds
// each duty, and passes live events to the other servers (and theirs to its own SSE clients).
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { Duty, type LiveEvent, type ServerList } from "../../protocol/index.js";
import type { Coordination, RelayIdentity, ServerIdentity } from "../db/coordination.js";
import type { EventBus, NewLiveEvent } from "../events/bus.js";
import { EventOutbox, othersEvents } from "./event-batches.js";

/** A relay passes many requests a second: its row is written at most this often per server. */
const RELAY_NOTE_MS = 5_000;

export class Cluster {
  private held: readonly Duty[] = [];
  /** By our clock: the lease can only have started after we sent the heartbeat that renewed it. */
  private heldUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private beat: Promise<void> | undefined;
  private self: ServerIdentity | undefined;
  /** Tells this process's events from others' (two processes could claim one id by mistake). */
  private readonly origin = randomUUID();
  /** This server's events on their way to the others, a batch per turn of the event loop. */
  private readonly outbox = new EventOutbox(
    this.origin,
    (message) => this.coordination.broadcast(message),
    (err) => {
      this.log.warn({ err }, "events not passed to the other servers");
    },
  );
  /** When this server last wrote each relay's row (by URL): the throttle of relaySeen. */
  private readonly relaysNoted = new Map<string, number>();

  constructor(
    private readonly coordination: Coordination,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Registers this server (once it listens: its id names its port), with a first heartbeat so the row is
   * there when start-up ends; then one every third of the lease.
   */
  async start(self: ServerIdentity): Promise<void> {
    this.self = self;
    await this.heartbeat(self);
    this.timer = setInterval(
      () => {
        this.beat ??= this.heartbeat(self).finally(() => {
          this.beat = undefined;
        });
      },
      Math.max(100, Math.floor(this.ttlMs / 3)),
    );
    this.timer.unref();
  }

  private async heartbeat(self: ServerIdentity): Promise<void> {
    const sent = Date.now();
    try {
      const held = await this.coordination.heartbeat(self, Duty.options, this.ttlMs);
      const gained = held.filter((duty) => !this.holds(duty));
      if (gained.length > 0) this.log.info({ duties: gained }, "periodic work taken");
      this.held = held;
      // A tenth of the lease kept back for our clock and the database's to differ in rate.
      this.heldUntil = sent + Math.floor(this.ttlMs * 0.9);
    } catch (err) {
      // What we held stays ours until heldUntil; past it, holds() says no and another server takes over.
      this.log.error({ err }, "heartbeat failed");
    }
  }

  /** Whether this server runs `duty` now. */
  holds(duty: Duty): boolean {
    return Date.now() < this.heldUntil && this.held.includes(duty);
  }

  /**
   * The publish function for this server's own events: into its bus, and on to the other servers,
   * whose events go into the bus too (each bus gives them its own ids).
   */
  relay(bus: EventBus, observe: (event: LiveEvent) => void): (event: NewLiveEvent) => void {
    this.coordination.onMessage((message) => {
      const received = othersEvents(message, this.origin);
      if ("unreadable" in received)
        this.log.warn({ issues: received.unreadable }, "unreadable events from another server");
      else if ("events" in received) for (const event of received.events) bus.publish(event); // ids of this bus
    });
    return (event) => {
      const published = bus.publish(event);
      observe(published);
      this.outbox.add(published);
    };
  }

  /** A relay passed a credentialed request on: its heartbeat, written at most every RELAY_NOTE_MS. */
  relaySeen(relay: RelayIdentity): void {
    const now = Date.now();
    const last = this.relaysNoted.get(relay.url);
    if (last !== undefined && now - last < RELAY_NOTE_MS) return;
    this.relaysNoted.set(relay.url, now);
    this.coordination.relaySeen(relay).catch((err: unknown) => {
      this.relaysNoted.delete(relay.url); // try again with its next request
      this.log.warn({ err, relay: relay.url }, "relay heartbeat not recorded");
    });
  }

  async list(): Promise<ServerList> {
    return {
      coordination: this.coordination.kind,
      servers: await this.coordination.servers(),
      relays: await this.coordination.relays(),
    };
  }

  /** Stops renewing and gives the duties up, so another server takes them at its next heartbeat. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.beat;
    await this.outbox.drained();
    this.held = [];
    await this.coordination.close(this.self?.id).catch((err: unknown) => {
      this.log.warn({ err }, "could not give up periodic work");
    });
  }
}
