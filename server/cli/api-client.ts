// The CLI's HTTP client for the bootwright API: JSON in and out, errors that say what failed.
import { ErrorBody } from "../../protocol/index.js";
import { clientToken } from "./credentials.js";

/** The Authorization header for a request to `url`, when the CLI has a token for its server. */
export function authHeaders(url: string): Record<string, string> {
  const token = clientToken(url);
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function requestJson(
  url: string,
  /** `timeoutMs`: for the calls the server itself bounds longer (a BMC's power cycle); default 10 s. */
  init: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<unknown> {
  let response: Response;
  try {
    const auth = authHeaders(url);
    response = await fetch(url, {
      method: init.method ?? "GET",
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
      ...(init.body === undefined
        ? { headers: auth }
        : { headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(init.body) }),
    });
  } catch (err) {
    const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`cannot reach the bootwright server at ${url}: ${reason}`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = ErrorBody.safeParse(body);
    const hint =
      response.status === 401 ? " (set BOOTWRIGHT_TOKEN, or run `bootwright login --server <url>`)" : "";
    throw new Error(
      `server answered ${response.status}${error.success ? `: ${error.data.message}` : ""}${hint}`,
    );
  }
  return body;
}

export function getJson(url: string): Promise<unknown> {
  return requestJson(url);
}

/** The flags every client command takes. */
export interface ClientOptions {
  json?: boolean;
  server?: string;
}

export const SERVER_HELP = "server URL (default $BOOTWRIGHT_SERVER or http://127.0.0.1:8080)";

/** Prints `value` as JSON with --json, else the readable text. */
export function print(opts: ClientOptions, value: unknown, text: () => string): void {
  console.log(opts.json ? JSON.stringify(value, null, 2) : text());
}
