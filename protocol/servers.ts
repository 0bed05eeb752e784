// The bootwright servers sharing one store (GET /v1/servers, `bootwright servers`): each registers itself
// and renews its row while it runs; periodic work (the lease sweep, the maintenance monitor, the boot-log
// prune) is a duty one server holds at a time.
import * as z from "zod";

/** The periodic work that runs on one server at a time across a site. */
export const Duty = z.enum(["lease-sweep", "maintenance-monitor", "boot-log-prune"]);
export type Duty = z.infer<typeof Duty>;

export const ServerInstance = z.strictObject({
  /** `<hostname>:<port>`: the same after a restart, so a restarted server takes its row back. */
  id: z.string(),
  /** package.json's version of the server's bootwright. */
  version: z.string(),
  /** Where the other servers and relays reach it: its listen address (this host's name for 0.0.0.0). */
  url: z.string(),
  startedAt: z.iso.datetime(),
  /** Its last heartbeat, by the store's clock. */
  heartbeatAt: z.iso.datetime(),
  /** Whether it renewed its row within the lease time (a dead server's row stays until it returns). */
  alive: z.boolean(),
  /** The periodic work it holds now. */
  duties: z.array(Duty),
});
export type ServerInstance = z.infer<typeof ServerInstance>;

/**
 * A rack relay as the servers see it: nginx names itself on each request it passes on (the
 * X-Bootwright-Relay headers of server/relay/nginx-config.ts), and a server notes it when the request
 * carried a valid credential (a machine's or an operator's): its heartbeat is the traffic it relays.
 */
export const RelayInstance = z.strictObject({
  /** Where its machines reach it: the address and port its nginx listens on. */
  url: z.string(),
  /** The version of the bootwright that wrote its configuration. */
  version: z.string(),
  /** The last credentialed request it passed on, by the store's clock. */
  heartbeatAt: z.iso.datetime(),
});
export type RelayInstance = z.infer<typeof RelayInstance>;

export const ServerList = z.strictObject({
  /** local: one process on SQLite (it holds every duty); postgres: any number of servers on one database. */
  coordination: z.enum(["local", "postgres"]),
  servers: z.array(ServerInstance),
  relays: z.array(RelayInstance),
});
export type ServerList = z.infer<typeof ServerList>;
