// What servers sharing one store coordinate through it: who is running (a row each, renewed by a
// heartbeat), which server holds each periodic duty (a lease that runs out when its holder stops renewing
// it), and live events passed to every other server. Two implementations: one process on SQLite holds
// everything itself (coordination/local); servers on PostgreSQL use its rows, clock and LISTEN/NOTIFY.
import type { Duty, RelayInstance, ServerInstance } from "../../protocol/index.js";
import { PgCoordination } from "./postgres/coordination.js";

export interface ServerIdentity {
  id: string;
  version: string;
  url: string;
  startedAt: string;
}

/** A relay as it names itself on the requests it passes on (server/http/relay-origin.ts). */
export interface RelayIdentity {
  url: string;
  version: string;
}

export interface Coordination {
  readonly kind: "local" | "postgres";
  /**
   * Registers or renews this server's row for `ttlMs`, and claims or renews each duty that is free, ran
   * out, or already ours. Returns the duties held now, until `ttlMs` after the call started at the latest.
   */
  heartbeat(self: ServerIdentity, duties: readonly Duty[], ttlMs: number): Promise<Duty[]>;
  /** Every registered server, by id. */
  servers(): Promise<ServerInstance[]>;
  /** Notes that `relay` passed a credentialed request on just now (its heartbeat). */
  relaySeen(relay: RelayIdentity): Promise<void>;
  /** Every relay seen, by URL. */
  relays(): Promise<RelayInstance[]>;
  /** Hands a message to every other server's listener (and to none here when alone). */
  broadcast(message: string): Promise<void>;
  /** Called with each message another server broadcast. */
  onMessage(listener: (message: string) => void): void;
  /** Gives up this server's duties (another takes them at once; none before it registered) and stops. */
  close(serverId: string | undefined): Promise<void>;
}

/** One process alone on its store: every duty is its own, nothing to pass on. */
export class LocalCoordination implements Coordination {
  readonly kind = "local";
  private last: { self: ServerIdentity; at: string; duties: Duty[] } | undefined;
  private readonly seen = new Map<string, RelayInstance>();

  heartbeat(self: ServerIdentity, duties: readonly Duty[]): Promise<Duty[]> {
    this.last = { self, at: new Date().toISOString(), duties: [...duties] };
    return Promise.resolve([...duties]);
  }

  servers(): Promise<ServerInstance[]> {
    const last = this.last;
    return Promise.resolve(
      last ? [{ ...last.self, heartbeatAt: last.at, alive: true, duties: last.duties }] : [],
    );
  }

  relaySeen(relay: RelayIdentity): Promise<void> {
    this.seen.set(relay.url, { ...relay, heartbeatAt: new Date().toISOString() });
    return Promise.resolve();
  }

  relays(): Promise<RelayInstance[]> {
    return Promise.resolve([...this.seen.values()].sort((a, b) => a.url.localeCompare(b.url)));
  }

  broadcast(): Promise<void> {
    return Promise.resolve();
  }

  onMessage(): void {
    // Nobody else to hear from.
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The coordination a store location needs: PostgreSQL's for postgres:// URLs, else local. */
export function openCoordination(location: string): Coordination {
  return /^postgres(ql)?:\/\//.test(location) ? new PgCoordination(location) : new LocalCoordination();
}
