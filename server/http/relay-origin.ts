// Requests that came through a rack relay: its nginx names itself on each one it passes on
// (X-Bootwright-Relay: the URL its machines reach it at; X-Bootwright-Relay-Version), replacing whatever
// the client sent. What a machine is told to fetch next (boot scripts, the loader's server URL, agent
// bundles) then names the relay, so machines that reach only the relay boot through it; and a
// credentialed request through it is the relay's heartbeat (GET /v1/servers lists it).
// A client that sets the header itself only changes the URLs in its own answer.
import type { FastifyRequest } from "fastify";
import * as z from "zod";
import type { RelayIdentity } from "../db/coordination.js";
import type { App } from "./app.js";

export const RELAY_HEADER = "x-bootwright-relay";
export const RELAY_VERSION_HEADER = "x-bootwright-relay-version";

/** A relay's own URL: http://<address>:<port>, nothing else (it is put into boot scripts). */
const RelayUrl = z
  .string()
  .max(200)
  .regex(/^http:\/\/[0-9A-Za-z.\-[\]:]+:\d{1,5}$/);
const RelayVersion = z
  .string()
  .max(64)
  .regex(/^[0-9A-Za-z.+-]+$/);

/** The relay a request came through, or undefined (straight from a client, or a header we refuse). */
export function relayOf(request: FastifyRequest): RelayIdentity | undefined {
  const url = RelayUrl.safeParse(request.headers[RELAY_HEADER]);
  if (!url.success) return undefined;
  const version = RelayVersion.safeParse(request.headers[RELAY_VERSION_HEADER]);
  return { url: url.data, version: version.success ? version.data : "unknown" };
}

/** The URLs to tell a machine: the relay's when the request came through one, else this server's. */
export function machineFacingUrls(
  request: FastifyRequest,
  own: { advertiseUrl: string; bootUrl: string },
): { advertiseUrl: string; bootUrl: string } {
  const relay = relayOf(request);
  return relay ? { advertiseUrl: relay.url, bootUrl: relay.url } : own;
}

/** After each credentialed answer through a relay: the relay's heartbeat. */
export function trackRelays(app: App, relaySeen: (relay: RelayIdentity) => void): void {
  app.addHook("onResponse", (request, _reply, done) => {
    if (request.machine || request.operator) {
      const relay = relayOf(request);
      if (relay) relaySeen(relay);
    }
    done();
  });
}
