// The page's HTTP client for the bootwright API: every call carries the operator's token (Authorization:
// Bearer, never in a URL), answers are parsed with the protocol's zod schemas, and refusals keep the
// server's `{ code, message, details }`.
import type { z } from "zod";
import { ErrorBody } from "../../protocol/errors.js";

/** Where the token lives: this tab's session only (gone when the tab closes), never a URL or a cookie. */
const TOKEN_KEY = "bootwright.token";

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  save: (token: string): void => {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear: (): void => {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A refused or failed call: the HTTP status and the server's error body (code "network" when none). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }
}

async function failure(response: Response): Promise<ApiFailure> {
  const body = ErrorBody.safeParse(await response.json().catch(() => null));
  return body.success
    ? new ApiFailure(response.status, body.data.code, body.data.message, body.data.details)
    : new ApiFailure(response.status, "http", `the server answered ${response.status}`, null);
}

/** Calls the API with the session's token; `onUnauthorized` runs on a 401 (the token was revoked). */
export class Api {
  constructor(private readonly onUnauthorized: () => void) {}

  async request(method: string, path: string, body?: unknown, token = session.token()): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ApiFailure(0, "network", `cannot reach the server: ${String(err)}`, null);
    }
    if (!response.ok) {
      const refused = await failure(response);
      if (response.status === 401) this.onUnauthorized();
      throw refused;
    }
    return response.json();
  }

  /** GET, parsed with the answer's schema. */
  async get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return schema.parse(await this.request("GET", path));
  }

  /** A change (POST, PUT, DELETE); the answer as the server sent it. */
  send(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<unknown> {
    return this.request(method, path, body);
  }
}

/** A path with its ids percent-encoded: `path\`/v1/machines/${id}\``. */
export function path(strings: TemplateStringsArray, ...ids: string[]): string {
  return strings.map((part, i) => part + (i < ids.length ? encodeURIComponent(ids[i] ?? "") : "")).join("");
}
