// The CLI's reader of GET /v1/events: yields each live event, reconnecting with Last-Event-ID when the
// stream drops (a server restart, a proxy timeout), so nothing between two connections is lost; a
// `reset` (the server could not resume) is yielded like any event, for the caller to refetch.
import { setTimeout as delay } from "node:timers/promises";
import { ErrorBody, SseParser, parseLiveEvent, type LiveEvent } from "../../protocol/index.js";
import { authHeaders } from "./api-client.js";

export interface EventStreamOptions {
  /** Only this machine's events. */
  machine?: string;
  signal?: AbortSignal;
  /** Resume after this id (a previous connection's last one). */
  lastEventId?: number;
  /** How long to wait before reconnecting (default 1 s). */
  retryMs?: number;
  /** The API token; default the CLI's own (BOOTWRIGHT_TOKEN, or the login profile). */
  token?: string;
  /** Called each time the stream is open (the server listens for us from then on). */
  onOpen?: () => void;
}

export async function* liveEvents(
  serverUrl: string,
  options: EventStreamOptions = {},
): AsyncGenerator<LiveEvent> {
  const url = new URL("/v1/events", serverUrl);
  if (options.machine !== undefined) url.searchParams.set("machine", options.machine);
  let lastId = options.lastEventId;
  const wait = (): Promise<void> =>
    delay(options.retryMs ?? 1_000, undefined, { signal: options.signal }).catch(() => undefined);
  // Unreachable at the start is an error to report; once connected, a drop is a reconnect.
  let connected = false;
  while (!options.signal?.aborted) {
    const auth =
      options.token === undefined ? authHeaders(url.href) : { authorization: `Bearer ${options.token}` };
    const headers: Record<string, string> = { ...auth, accept: "text/event-stream" };
    if (lastId !== undefined) headers["last-event-id"] = String(lastId);
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: options.signal ?? null });
    } catch (err) {
      if (options.signal?.aborted) return;
      if (!connected) {
        const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
        throw new Error(`cannot reach the bootwright server at ${url.origin}: ${reason}`, { cause: err });
      }
      await wait();
      continue;
    }
    if (!response.ok || !response.body) {
      const error = ErrorBody.safeParse(await response.json().catch(() => undefined));
      throw new Error(
        `GET /v1/events: server answered ${response.status}${error.success ? `: ${error.data.message}` : ""}`,
      );
    }
    connected = true;
    options.onOpen?.();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      // Node's fetch body: a web ReadableStream of bytes, async-iterable.
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
          const event = parseLiveEvent(message);
          if (!event) continue;
          lastId = event.id;
          yield event;
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      // The connection dropped mid-stream: the loop reconnects with the last id it saw.
      if (!(err instanceof Error)) throw err;
    }
    await wait();
  }
}
