// Every failure as the wire's `{ code, message, details? }` (architecture.md): our ApiErrors as they
// are, fastify's own (bad JSON, a body over the limit, a media type we do not read, a schema mismatch)
// mapped to the same codes and statuses as before, a full disk as 507, anything else 500 with the
// reason in the log only. Unknown paths are 404; a path known under another method is 405.
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ErrorBody, ErrorCode, SchemaIssue } from "../../protocol/index.js";
import { ApiError, HTTP_STATUS, isApiError } from "../errors.js";

/** fastify's error codes that are the client's mistake, as ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "invalid_json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "invalid_json",
  FST_ERR_CTP_BODY_TOO_LARGE: "body_too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "invalid_parameter",
  // The router's, before any route is chosen (frameworkErrors in app.ts sends them here).
  FST_ERR_BAD_URL: "invalid_parameter",
  FST_ERR_MAX_PARAM_LENGTH: "invalid_parameter",
};

/** What the router's refusals say (theirs echo the whole path, which may be kilobytes). */
const ROUTER_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: "the path is not valid percent-encoding",
  FST_ERR_MAX_PARAM_LENGTH: "a path segment is longer than 100 characters: no id is that long",
};

interface ValidationItem {
  instancePath?: string;
  message?: string;
}

function field(err: unknown, name: string): unknown {
  return typeof err === "object" && err !== null && name in err
    ? (err as Record<string, unknown>)[name]
    : undefined;
}

/** A full disk under the store (the data directory, SQLite's SQLITE_FULL, or a file write's ENOSPC). */
function isStorageFull(err: unknown): boolean {
  const code = field(err, "code");
  return code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL" || code === "53100"; // 53100: PostgreSQL disk_full
}

function asApiError(err: unknown, request: FastifyRequest): ApiError {
  if (isApiError(err)) return err;
  const validation = field(err, "validation");
  if (Array.isArray(validation)) {
    const issues: SchemaIssue[] = (validation as ValidationItem[]).map((item) => ({
      path: (item.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".") || "(root)",
      message: item.message ?? "invalid",
    }));
    if (field(err, "validationContext") !== "body")
      return new ApiError(
        "invalid_parameter",
        `invalid ${String(field(err, "validationContext"))}: ${issues.map((i) => `${i.path} ${i.message}`).join("; ")}`,
      );
    const what = request.routeOptions.config.what ?? "request body";
    return new ApiError("schema_mismatch", `${what} does not match the schema`, issues);
  }
  const fastifyCode = FASTIFY_CODES[String(field(err, "code"))];
  if (fastifyCode === "body_too_large") {
    const limitBytes = request.routeOptions.bodyLimit;
    return new ApiError("body_too_large", `body is over the limit of ${limitBytes} bytes`, { limitBytes });
  }
  if (fastifyCode === "invalid_json")
    return new ApiError(
      "invalid_json",
      `request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  if (fastifyCode === "unsupported_media_type")
    return new ApiError(
      "unsupported_media_type",
      `expected content-type application/json, got ${request.headers["content-type"] ?? "none"}`,
    );
  if (fastifyCode)
    return new ApiError(
      fastifyCode,
      ROUTER_MESSAGES[String(field(err, "code"))] ?? (err instanceof Error ? err.message : String(err)),
    );
  if (isStorageFull(err))
    return new ApiError(
      "insufficient_storage",
      `the server's data directory is full (${err instanceof Error ? err.message : String(err)}); nothing was changed`,
      undefined,
      { cause: err },
    );
  return new ApiError("internal", "internal server error; see the server log", undefined, { cause: err });
}

export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const apiError = asApiError(err, request);
  const status = HTTP_STATUS[apiError.code];
  if (status >= 500) request.log.error({ err }, "request failed");
  else request.log.info({ code: apiError.code, reason: apiError.message }, "request refused");
  if (reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  const body: ErrorBody = { code: apiError.code, message: apiError.message };
  if (apiError.details !== undefined) body.details = apiError.details;
  // A refused body may still be arriving: close the connection after answering instead of reading it all.
  if (apiError.code === "body_too_large") void reply.header("connection", "close");
  void reply.code(status).send(body);
}

/**
 * Node's HTTP parser refused the bytes before there was a request (headers over 16 KiB, broken
 * framing, too slow): answer in our `{ code, message }` like every other refusal (fastify's own answer
 * has another shape), then close, since the rest of the connection cannot be trusted.
 */
export function handleClientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  // A reset connection has no one left to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code: ErrorCode =
    err.code === "HPE_HEADER_OVERFLOW"
      ? "headers_too_large"
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "request_timeout"
        : "malformed_request";
  const body = JSON.stringify({ code, message: ERROR_MESSAGES[code] } satisfies ErrorBody);
  const status = HTTP_STATUS[code];
  // A HEAD's answer has headers only (RFC 9110 §9.3.2): its client would read a body as the next answer.
  const head = Buffer.isBuffer(err.rawPacket) && err.rawPacket.subarray(0, 5).toString("latin1") === "HEAD ";
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? "" : body}`,
    );
  socket.destroy();
}

const ERROR_MESSAGES: Record<"headers_too_large" | "request_timeout" | "malformed_request", string> = {
  headers_too_large: "the request's headers (its URL included) are over 16 KiB",
  request_timeout: "the request did not arrive whole in time",
  malformed_request: "the request is not well-formed HTTP",
};

interface KnownRoute {
  method: string;
  pattern: RegExp;
}

/** `/v1/machines/:id/log` → a regex for concrete paths (a segment may end in a literal, e.g. `:mac.ipxe`). */
function routePattern(url: string): RegExp {
  const source = url
    .split("/")
    .map((segment) => segment.replace(/[.]/g, "\\.").replace(/:(\w+)/g, "[^/]+?"))
    .join("/");
  return new RegExp(`^${source}$`);
}

/** The not-found handler: 405 when the path exists under another method, else 404. */
export function methodNotAllowedOrNotFound(app: {
  addHook(name: "onRoute", hook: (route: { method: string | string[]; url: string }) => void): unknown;
}) {
  const known: KnownRoute[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) known.push({ method, pattern: routePattern(route.url) });
  });
  return (request: FastifyRequest, reply: FastifyReply): void => {
    const path = request.url.split("?")[0] ?? "";
    const elsewhere = known.some((r) => r.method !== request.method && r.pattern.test(path));
    const error = elsewhere
      ? new ApiError("method_not_allowed", `${request.method} is not allowed on ${path}`)
      : new ApiError("not_found", `no route for ${request.method} ${path}`);
    void reply
      .code(HTTP_STATUS[error.code])
      .send({ code: error.code, message: error.message } satisfies ErrorBody);
  };
}
