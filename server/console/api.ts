// The page's HTTP client for the bootwright API: every call carries the operator's token (Authorization:
// Bearer, never in a URL), answers are parsed with the protocol's zod schemas, and refusals keep the
// server's `{ code, message, details }`.
import type * as z from "zod";
import { ErrorBody } from "../../protocol/errors.js";
import { BootwrightError, type ServerRefusal } from "../../protocol/failure.js";

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

/**
 * A call the server refused: its status and error body (protocol/errors.ts), as the loader's
 * HttpStatusError carries them (the same class, in this program's bundle).
 */
export class HttpStatusError extends BootwrightError<"http_status"> {
  constructor(refusal: ServerRefusal) {
    super("http_status", refusal.serverMessage ?? `the server answered ${refusal.status}`, refusal);
  }
}

async function refusal(response: Response): Promise<HttpStatusError> {
  const body = ErrorBody.safeParse(await response.json().catch(() => null));
  return new HttpStatusError({
    status: response.status,
    serverCode: body.success ? body.data.code : null,
    serverMessage: body.success ? body.data.message : null,
    serverDetails: body.success ? body.data.details : undefined,
  });
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
      throw new Error(`cannot reach the server: ${String(err)}`, { cause: err });
    }
    if (!response.ok) {
      const refused = await refusal(response);
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
