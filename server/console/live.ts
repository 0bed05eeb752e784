// Live updates for the page: reads GET /v1/events (server-sent events) with fetch() and a stream reader,
// so the operator's token goes in the Authorization header (EventSource cannot send one), reconnects
// with Last-Event-ID so nothing is lost, and falls back to polling every second where the server has no
// event stream (404). The event shapes are the contract of the events route; until protocol/ carries
// them, they are described here.
import * as z from "zod";
import { BootCategory } from "../../protocol/boot-category.js";
import { StepLogEntry } from "../../protocol/machine.js";
import { SseParser, type SseMessage } from "./sse.js";

export const ProgressKind = z.enum(["image", "capture", "erase"]);

/** Bytes moved by a machine's current transfer (an image written, a capture uploaded, a disk erased). */
export const Progress = z.object({
  machineId: z.string(),
  kind: ProgressKind,
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  bytesPerSecond: z.number().nonnegative().nullable(),
  at: z.string(),
});
export type Progress = z.infer<typeof Progress>;

const PAYLOADS = {
  category: z.object({
    machineId: z.string(),
    category: BootCategory,
    expected: BootCategory.nullable(),
    at: z.string(),
  }),
  step: z.object({ machineId: z.string(), entry: StepLogEntry }),
  progress: Progress,
  maintenance: z.object({
    machineId: z.string(),
    runId: z.string(),
    state: z.string(),
    report: z.unknown().optional(),
    at: z.string(),
  }),
};

export type LiveEvent =
  | { [K in keyof typeof PAYLOADS]: { type: K } & z.infer<(typeof PAYLOADS)[K]> }[keyof typeof PAYLOADS]
  | { type: "reset" };

/** One SSE message as a LiveEvent; undefined for a type this page does not know or a malformed one. */
export function toLiveEvent(message: SseMessage): LiveEvent | undefined {
  if (message.event === "reset") return { type: "reset" };
  if (!Object.hasOwn(PAYLOADS, message.event)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    return undefined;
  }
  const type = message.event as keyof typeof PAYLOADS;
  const parsed = PAYLOADS[type].safeParse(data);
  return parsed.success ? ({ type, ...parsed.data } as LiveEvent) : undefined;
}

/** live: the event stream is open; polling: the server has none; offline: reconnecting. */
export type LiveMode = "connecting" | "live" | "polling" | "offline";

export interface LiveOptions {
  url: string;
  token: () => string | null;
  onEvent: (event: LiveEvent) => void;
  onMode: (mode: LiveMode) => void;
  /** Fetches what changed, without events (the fallback, and after a gap). */
  poll: () => Promise<void>;
  onUnauthorized: () => void;
  pollEveryMs?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((done) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      done();
    });
  });

/** Follows the event stream (or polls) until stop() is called. */
export function startLive(options: LiveOptions): { stop: () => void } {
  const controller = new AbortController();
  const { signal } = controller;
  // A function, not the property: TypeScript would keep `signal.aborted` narrowed to false across awaits.
  const stopped = (): boolean => signal.aborted;
  const pollEveryMs = options.pollEveryMs ?? 1_000;
  let lastEventId: string | null = null;

  const pollForever = async (): Promise<void> => {
    options.onMode("polling");
    while (!signal.aborted) {
      const started = performance.now();
      await options.poll().catch(() => undefined);
      // Never more than a third of the time polling: a 10,000-machine list takes a while to fetch.
      await sleep(Math.max(pollEveryMs, 2 * (performance.now() - started)), signal);
    }
  };

  const follow = async (): Promise<void> => {
    let backoffMs = 500;
    while (!signal.aborted) {
      const token = options.token();
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (token) headers.authorization = `Bearer ${token}`;
      if (lastEventId !== null) headers["last-event-id"] = lastEventId;
      try {
        const response = await fetch(options.url, { headers, signal });
        if (response.status === 404) {
          await pollForever();
          return;
        }
        if (response.status === 401) {
          options.onUnauthorized();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
        options.onMode("live");
        backoffMs = 500;
        const parser = new SseParser((message) => {
          lastEventId = message.id;
          const event = toLiveEvent(message);
          if (event) options.onEvent(event);
        });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(value);
        }
        if (parser.retryMs !== null) backoffMs = parser.retryMs;
      } catch {
        // The connection dropped (or stop() aborted it: checked next).
      }
      if (stopped()) return;
      options.onMode("offline");
      await sleep(backoffMs, signal);
      backoffMs = Math.min(backoffMs * 2, 10_000);
    }
  };

  options.onMode("connecting");
  void follow();
  return {
    stop: () => {
      controller.abort();
    },
  };
}
