// GET /v1/events: the live events as server-sent events (protocol/events.ts). Any operator's token (a
// viewer's will do) in the Authorization header, so browsers read it with fetch() and a stream, the CLI
// with undici. `?machine=<id>` narrows it to one machine; `Last-Event-ID` resumes after a reconnect.
import type { ServerResponse } from "node:http";
import * as z from "zod";
import type { LiveEvent } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import type { EventBus } from "../events/bus.js";
import type { App } from "./app.js";

/** A comment line every 15 s: proxies and NAT tables keep an idle stream open, clients see it is alive. */
export const KEEP_ALIVE_MS = 15_000;
/**
 * A client this far behind (bytes written but not yet taken by its socket) is cut off rather than kept
 * in memory: it reconnects with its Last-Event-ID and catches up from the replay ring.
 */
const MAX_UNSENT_BYTES = 4 << 20;

/** Each event's SSE frame is made (and encoded) once, however many clients it goes to. */
const frames = new WeakMap<LiveEvent, Buffer>();

export function sseFrame(event: LiveEvent): Buffer {
  let frame = frames.get(event);
  if (frame === undefined) {
    frame = Buffer.from(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    frames.set(event, frame);
  }
  return frame;
}

const EventsQuery = z.strictObject({ machine: z.string().min(1).optional() });

function lastEventId(header: string | string[] | undefined): number | undefined {
  const text = [header].flat()[0]?.trim();
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,16}$/.test(text))
    throw new ApiError("invalid_parameter", `Last-Event-ID must be an event id (an integer), not ${text}`);
  return Number(text);
}

export function addEventRoutes(app: App, deps: { events: EventBus }): void {
  app.get(
    "/v1/events",
    // No HEAD: a stream's headers say nothing, and a HEAD would hold its connection like a GET.
    { config: { access: "viewer" }, schema: { querystring: EventsQuery }, exposeHeadRoute: false },
    async (request, reply) => {
      const after = lastEventId(request.headers["last-event-id"]);
      const filter = request.query.machine === undefined ? {} : { machine: request.query.machine };
      const res: ServerResponse = reply.raw;
      void reply.hijack();
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        connection: "keep-alive",
        // nginx in front (the scale-out set-up) must pass each event on at once.
        "x-accel-buffering": "no",
      });
      const send = (event: LiveEvent): void => {
        if (res.writableLength > MAX_UNSENT_BYTES) {
          request.log.info({ buffered: res.writableLength }, "event stream client too slow: cut off");
          res.destroy();
          return;
        }
        res.write(sseFrame(event));
      };
      const subscription = deps.events.subscribe(filter, send, after);
      // The first line opens the stream for clients that wait for bytes (and sets their retry delay).
      res.write(": bootwright events\nretry: 2000\n\n");
      for (const event of subscription.missed) send(event);
      const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
      await new Promise<void>((resolve) => {
        res.once("close", () => {
          clearInterval(keepAlive);
          subscription.close();
          resolve();
        });
      });
    },
  );
}
