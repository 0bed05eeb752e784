// Servers on one PostgreSQL coordinate through it: a `servers` row each (renewed by its heartbeat), a
// `server_duties` row per periodic duty (held by one server until its lease, by the database's clock,
// runs out: a killed holder's duty is claimed by the next heartbeat of another), and NOTIFY on one
// channel for live events, which every server LISTENs to on a connection of its own.
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import * as z from "zod";
import { Duty, type RelayInstance, type ServerInstance } from "../../../protocol/index.js";
import type { Coordination, RelayIdentity, ServerIdentity } from "../coordination.js";

const CHANNEL = "bootwright_events";
/** NOTIFY's payload limit is 8000 bytes; a longer message goes through server_events by its id. */
const INLINE_LIMIT = 7_900;
/** A message kept in server_events only has to outlive its delivery. */
const KEEP_MESSAGES = "5 minutes";

const ServerRow = z.object({
  id: z.string(),
  version: z.string(),
  url: z.string(),
  started_at: z.date(),
  heartbeat_at: z.date(),
  alive: z.boolean(),
  duties: z.array(Duty),
});
const RelayRow = z.object({ url: z.string(), version: z.string(), heartbeat_at: z.date() });
const NameRow = z.object({ name: Duty });
const PayloadRow = z.object({ payload: z.string() });
const IdRow = z.object({ id: z.coerce.string() });

export class PgCoordination implements Coordination {
  readonly kind = "postgres";
  private readonly pool: pg.Pool;
  private readonly listeners: ((message: string) => void)[] = [];
  private listening: pg.Client | undefined;
  private closed = false;

  constructor(private readonly connection: string) {
    // Its own small pool: heartbeats must not queue behind a busy store's transactions.
    this.pool = new pg.Pool({ connectionString: connection, max: 2 });
    this.pool.on("error", () => undefined); // an idle connection dropped: the next query reconnects
  }

  async heartbeat(self: ServerIdentity, duties: readonly Duty[], ttlMs: number): Promise<Duty[]> {
    const held = (
      await this.pool.query(
        `INSERT INTO server_duties (name, holder, expires_at)
           SELECT unnest($1::text[]), $2, now() + $3 * interval '1 millisecond'
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
           WHERE server_duties.holder = EXCLUDED.holder OR server_duties.expires_at < now()
         RETURNING name`,
        [duties, self.id, ttlMs],
      )
    ).rows.map((row) => NameRow.parse(row).name);
    await this.pool.query(
      `INSERT INTO servers (id, version, url, started_at, heartbeat_at, expires_at)
         VALUES ($1, $2, $3, $4, now(), now() + $5 * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, url = EXCLUDED.url,
         started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, expires_at = EXCLUDED.expires_at`,
      [self.id, self.version, self.url, self.startedAt, ttlMs],
    );
    await this.pool.query(`DELETE FROM server_events WHERE at < now() - interval '${KEEP_MESSAGES}'`);
    await this.listen();
    return held.sort();
  }

  async servers(): Promise<ServerInstance[]> {
    const { rows } = await this.pool.query(
      `SELECT s.id, s.version, s.url, s.started_at, s.heartbeat_at, s.expires_at > now() AS alive,
         COALESCE((SELECT json_agg(d.name ORDER BY d.name) FROM server_duties d
                   WHERE d.holder = s.id AND d.expires_at > now()), '[]'::json) AS duties
       FROM servers s ORDER BY s.id`,
    );
    return rows.map((raw) => {
      const row = ServerRow.parse(raw);
      return {
        id: row.id,
        version: row.version,
        url: row.url,
        startedAt: row.started_at.toISOString(),
        heartbeatAt: row.heartbeat_at.toISOString(),
        alive: row.alive,
        duties: row.duties,
      };
    });
  }

  async relaySeen(relay: RelayIdentity): Promise<void> {
    await this.pool.query(
      `INSERT INTO relays (url, version, heartbeat_at) VALUES ($1, $2, now())
       ON CONFLICT (url) DO UPDATE SET version = EXCLUDED.version, heartbeat_at = EXCLUDED.heartbeat_at`,
      [relay.url, relay.version],
    );
  }

  async relays(): Promise<RelayInstance[]> {
    const { rows } = await this.pool.query("SELECT url, version, heartbeat_at FROM relays ORDER BY url");
    return rows.map((raw) => {
      const row = RelayRow.parse(raw);
      return { url: row.url, version: row.version, heartbeatAt: row.heartbeat_at.toISOString() };
    });
  }

  async broadcast(message: string): Promise<void> {
    let payload = message;
    if (Buffer.byteLength(message) > INLINE_LIMIT) {
      const { rows } = await this.pool.query("INSERT INTO server_events (payload) VALUES ($1) RETURNING id", [
        message,
      ]);
      payload = `@${IdRow.parse(rows[0]).id}`;
    }
    await this.pool.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]);
  }

  onMessage(listener: (message: string) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Opens the LISTEN connection when there is none (at the first heartbeat, and again at the one after
   * it broke): events raised elsewhere meanwhile are not seen here, which SSE clients already live with
   * (the store holds the state; an event only says what changed).
   */
  private async listen(): Promise<void> {
    if (this.listening || this.closed) return;
    const client = new pg.Client({ connectionString: this.connection });
    const drop = (): void => {
      if (this.listening === client) this.listening = undefined;
      client.end().catch(() => undefined);
    };
    client.on("error", drop);
    client.on("end", drop);
    client.on("notification", (note) => {
      if (note.channel !== CHANNEL || note.payload === undefined) return;
      this.deliver(note.payload).catch(() => undefined); // its row is gone: too old to matter
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listening = client;
  }

  private async deliver(payload: string): Promise<void> {
    let message = payload;
    if (payload.startsWith("@")) {
      const { rows } = await this.pool.query("SELECT payload FROM server_events WHERE id = $1", [
        payload.slice(1),
      ]);
      if (rows.length === 0) return;
      message = PayloadRow.parse(rows[0]).payload;
    }
    for (const listener of this.listeners) listener(message);
  }

  async close(serverId: string | undefined): Promise<void> {
    this.closed = true;
    try {
      if (serverId !== undefined) {
        await this.pool.query("DELETE FROM server_duties WHERE holder = $1", [serverId]);
        await this.pool.query("UPDATE servers SET expires_at = now() WHERE id = $1", [serverId]);
      }
    } finally {
      const client = this.listening;
      this.listening = undefined;
      await client?.end().catch(() => undefined);
      await Promise.race([this.pool.end(), delay(5_000)]);
    }
  }
}
