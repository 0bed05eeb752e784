// A small router: method + path pattern → handler; errors become { code, message, details? } bodies.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { ErrorBody } from "../../protocol/index.js";
import { ApiError, HTTP_STATUS } from "../errors.js";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  log: Logger;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  /** `path` uses `:name` segments; a segment may end in a literal suffix, e.g. `/boot/:mac.ipxe`. */
  on(method: string, path: string, handler: Handler): this {
    const source = path
      .split("/")
      .map((segment) => segment.replace(/[.]/g, "\\.").replace(/:(\w+)/g, "(?<$1>[^/]+?)"))
      .join("/");
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), handler });
    return this;
  }

  /** Finds the handler for a request; a path known under another method is a 405, not a 404. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } {
    let pathKnown = false;
    for (const route of this.routes) {
      const found = route.pattern.exec(pathname);
      if (!found) continue;
      pathKnown = true;
      if (route.method !== method && !(method === "HEAD" && route.method === "GET")) continue;
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(found.groups ?? {})) params[key] = decodeURIComponent(value);
      return { handler: route.handler, params };
    }
    throw pathKnown
      ? new ApiError("method_not_allowed", `${method} is not allowed on ${pathname}`)
      : new ApiError("not_found", `no route for ${method} ${pathname}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Turns any thrown value into the wire error body; unexpected ones are logged and become `internal`. */
/** A full disk under the store (the data directory, SQLite's SQLITE_FULL, or a file write's ENOSPC). */
function isStorageFull(err: unknown): boolean {
  return (
    err instanceof Error &&
    "code" in err &&
    (err.code === "ENOSPC" || err.code === "EDQUOT" || err.code === "SQLITE_FULL")
  );
}

export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const apiError =
    err instanceof ApiError
      ? err
      : isStorageFull(err)
        ? new ApiError(
            "insufficient_storage",
            `the server's data directory is full (${err instanceof Error ? err.message : String(err)}); nothing was changed`,
            undefined,
            { cause: err },
          )
        : new ApiError("internal", "internal server error; see the server log", undefined, { cause: err });
  const status = HTTP_STATUS[apiError.code];
  if (status >= 500) log.error({ err }, "request failed");
  else log.info({ code: apiError.code, reason: apiError.message }, "request refused");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: ErrorBody = { code: apiError.code, message: apiError.message };
  if (apiError.details !== undefined) body.details = apiError.details;
  // A refused body may still be arriving: close the connection after answering instead of reading it all.
  if (apiError.code === "body_too_large") res.setHeader("connection", "close");
  sendJson(res, status, body);
}
