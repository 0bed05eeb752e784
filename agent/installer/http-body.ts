// One HTTP GET whose body goes chunk by chunk to a sink, straight from undici's parser: no Readable, no
// async iterator, no promise per chunk. Under emulation the streams' machinery cost the install stream's
// main thread more than the bytes did (a CPU profile of the Debian image's 1,800 chunks: Readable.read,
// the async iterator, microtasks and their garbage, ~1.5 s of a 12 s stream). The sink answers a chunk
// with a promise only when it must wait (a full queue to the decoder): the response pauses until it
// settles, so back pressure still reaches the socket.
import { getGlobalDispatcher, type Dispatcher } from "undici";

/** Takes one chunk of the body; a promise means "hold the rest until this settles". Throwing stops. */
export type BodySink = (chunk: Buffer) => Promise<void> | undefined;

/** The server answered with an error status: its words (the start of its body) and the status. */
export interface ErrorAnswer {
  status: number;
  text: string;
}

export interface ReceiveOptions {
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /** Longest wait for the answer's headers, and between two pieces of its body. */
  timeoutMs: number;
  /** Called with a success status before any of the body; throwing refuses the answer. */
  onStatus: (status: number) => void;
  /** An error status (≥ 400): what the call rejects with, given the server's words. */
  onErrorAnswer: (answer: ErrorAnswer) => Error;
}

/** The most of an error answer's body kept for its message. */
const ERROR_TEXT_BYTES = 4_096;

/** GETs `url`, handing each body chunk to `sink`; resolves at the body's end, rejects on any failure. */
export function receiveBody(url: string, options: ReceiveOptions, sink: BodySink): Promise<void> {
  const { origin, pathname, search } = new URL(url);
  return new Promise<void>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let errorStatus = 0;
    const errorText: Buffer[] = [];
    let errorTextBytes = 0;
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve();
    };
    const stop = (err: Error): void => {
      // abort() reports back through onResponseError; settling first keeps our error, not undici's.
      settle(err);
      controller?.abort(err);
    };
    const onAbort = (): void => {
      stop(options.signal.reason instanceof Error ? options.signal.reason : new Error("aborted"));
    };
    if (options.signal.aborted) {
      onAbort();
      return;
    }
    options.signal.addEventListener("abort", onAbort);

    getGlobalDispatcher().dispatch(
      {
        origin,
        path: `${pathname}${search}`,
        method: "GET",
        headers: { ...options.headers },
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      },
      {
        onRequestStart(started) {
          controller = started;
          if (settled) started.abort(new Error("aborted"));
        },
        onResponseStart(_controller, status) {
          if (status < 200) return; // 1xx: the real answer follows
          if (status >= 400) {
            errorStatus = status;
            return;
          }
          try {
            options.onStatus(status);
          } catch (err) {
            stop(err instanceof Error ? err : new Error(String(err)));
          }
        },
        onResponseData(response, chunk) {
          // undici's parser, resumed with nothing buffered, hands over an empty piece: nothing to take.
          if (settled || chunk.length === 0) return;
          if (errorStatus !== 0) {
            if (errorTextBytes < ERROR_TEXT_BYTES) {
              errorText.push(chunk);
              errorTextBytes += chunk.length;
            }
            return;
          }
          let wait: Promise<void> | undefined;
          try {
            wait = sink(chunk);
          } catch (err) {
            stop(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (wait === undefined) return;
          response.pause();
          wait.then(
            () => {
              response.resume();
            },
            (err: unknown) => {
              stop(err instanceof Error ? err : new Error(String(err)));
            },
          );
        },
        onResponseEnd() {
          if (errorStatus === 0) settle();
          else
            settle(
              options.onErrorAnswer({
                status: errorStatus,
                text: Buffer.concat(errorText).toString("utf8").slice(0, ERROR_TEXT_BYTES),
              }),
            );
        },
        onResponseError(_controller, err) {
          settle(err);
        },
      },
    );
  });
}
