// The CLI's HTTP client for the bootwright API: JSON in and out, errors that say what failed.
import { ErrorBody } from "../../protocol/index.js";

export async function requestJson(
  url: string,
  init: { method?: string; body?: unknown } = {},
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method ?? "GET",
      signal: AbortSignal.timeout(10_000),
      ...(init.body === undefined
        ? {}
        : { headers: { "content-type": "application/json" }, body: JSON.stringify(init.body) }),
    });
  } catch (err) {
    const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`cannot reach the bootwright server at ${url}: ${reason}`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = ErrorBody.safeParse(body);
    throw new Error(`server answered ${response.status}${error.success ? `: ${error.data.message}` : ""}`);
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
