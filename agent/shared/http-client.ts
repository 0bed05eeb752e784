// The loader's HTTP client, on node:http and node:https rather than fetch. Node's fetch loads and compiles
// its own copy of undici on first use, and each request goes through web streams: in a 1-vCPU TCG VM the
// first fetch took 925 ms against 200 ms for node:http, a second one 120 ms against 34 ms, and a loader
// makes five or more requests on every boot before its work starts. Bodies are small (JSON, a driver
// bundle, an agent, a maintenance image), so an answer is read whole; the image stream has its own client.
import { request as plainRequest, type IncomingHttpHeaders, type ClientRequest } from "node:http";
import { request as tlsRequest } from "node:https";
import { BootwrightError, type FailureContext } from "../../protocol/failure.js";

/** The one CA a pinned server's connections trust (pinned-tls.ts); undefined: the system's CAs. */
let pinnedCaPem: string | undefined;

/** From now on, this process's HTTPS requests through this client trust `caPem` alone. */
export function trustOnlyCa(caPem: string): void {
  pinnedCaPem = caPem;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Readonly<Record<string, string>>;
  body?: string | Buffer;
  /**
   * The whole exchange, connection to the answer's last byte (then a RequestTimeout); none when only
   * `signal` bounds it.
   */
  timeoutMs?: number;
  /** The caller's own cancellation (a run's deadline): the request fails with its AbortError. */
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  ok: boolean;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** No whole answer within the request's time. */
export class RequestTimeout extends BootwrightError<"loader_request_timeout"> {
  constructor(context: FailureContext<"loader_request_timeout">) {
    super(
      "loader_request_timeout",
      `${context.method} ${context.url}: no answer in ${context.timeoutMs} ms`,
      context,
    );
  }
}

/**
 * One request, its answer read whole; network failures reject with Node's errors (their `code`:
 * ECONNREFUSED…), a timeout with RequestTimeout.
 */
export async function httpRequest(url: string, options: HttpRequestOptions): Promise<HttpAnswer> {
  try {
    return await exchange(url, options);
  } catch (err) {
    // A kept-alive connection the server had already closed (its idle timeout, or ours missed while the
    // CPU was busy) fails before anything was read: the request never reached the server, so once more on
    // a new connection, as Node's documentation advises.
    if (staleConnectionErrors.has(err as object)) return exchange(url, options);
    throw err;
  }
}

/** Errors of a kept-alive connection the server had closed before this request reached it. */
const staleConnectionErrors = new WeakSet<object>();

function exchange(url: string, options: HttpRequestOptions): Promise<HttpAnswer> {
  const target = new URL(url);
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers = {
    ...options.headers,
    ...(body === undefined ? {} : { "content-length": String(body.length) }),
  };
  return new Promise<HttpAnswer>((resolve, reject) => {
    const common = { method: options.method ?? "GET", headers, signal: options.signal };
    const request: ClientRequest =
      target.protocol === "https:"
        ? tlsRequest(target, { ...common, ...(pinnedCaPem === undefined ? {} : { ca: pinnedCaPem }) })
        : plainRequest(target, common);
    const { timeoutMs } = options;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            request.destroy(new RequestTimeout({ method: common.method, url, timeoutMs }));
          }, timeoutMs);
    let answered = false;
    request.on("error", (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (!answered && request.reusedSocket && (err.code === "ECONNRESET" || err.code === "EPIPE"))
        staleConnectionErrors.add(err);
      reject(err);
    });
    request.on("response", (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      response.on("end", () => {
        clearTimeout(timer);
        const status = response.statusCode ?? 0;
        resolve({
          status,
          ok: status >= 200 && status < 300,
          headers: response.headers,
          body: Buffer.concat(chunks),
        });
      });
    });
    request.end(body);
  });
}
