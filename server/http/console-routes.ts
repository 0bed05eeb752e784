// The operator console: the page at `/` and its hashed script and style sheet under /console/. Public
// GETs (the page holds no data: every API call it makes carries the operator's token), compressed as the
// browser accepts (brotli, gzip), and a Content-Security-Policy that lets the page load only from here.
import type { FastifyReply, FastifyRequest } from "fastify";
import * as z from "zod";
import { CONSOLE_PREFIX, ConsoleAssets, type ConsoleAsset } from "../console-build.js";
import { ApiError } from "../errors.js";
import type { App } from "./app.js";

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The encoding to send: brotli, then gzip, when the request accepts it (q=0 refuses). */
export function chooseEncoding(accept: string | undefined): "br" | "gzip" | null {
  const accepted = new Set(
    (accept ?? "")
      .split(",")
      .map((part) => part.trim().split(";"))
      .filter(([, q]) => q?.trim() !== "q=0")
      .map(([name]) => name?.trim().toLowerCase()),
  );
  if (accepted.has("br")) return "br";
  if (accepted.has("gzip")) return "gzip";
  return null;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: ConsoleAsset, cacheControl: string) {
  void reply
    .header("content-type", asset.contentType)
    .header("cache-control", cacheControl)
    .header("etag", asset.etag)
    .header("vary", "accept-encoding")
    .header("x-content-type-options", "nosniff");
  if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  const encoding = chooseEncoding(request.headers["accept-encoding"]);
  if (encoding) void reply.header("content-encoding", encoding);
  return reply.send(encoding === "br" ? asset.brotli : encoding === "gzip" ? asset.gzip : asset.body);
}

export function addConsoleRoutes(app: App): void {
  const assets = new ConsoleAssets();

  app.get("/", { config: { access: "public" } }, async (request, reply) => {
    const { page } = await assets.get();
    void reply.header("content-security-policy", CONTENT_SECURITY_POLICY).header("x-frame-options", "DENY");
    // The page names the current hashed files: it is checked on each load, they are kept for good.
    return send(request, reply, page, "no-cache");
  });

  app.get(
    `${CONSOLE_PREFIX}:file`,
    { config: { access: "public" }, schema: { params: z.object({ file: z.string() }) } },
    async (request, reply) => {
      const asset = (await assets.get()).files.get(request.params.file);
      if (!asset) throw new ApiError("not_found", `no console file ${request.params.file}`);
      return send(request, reply, asset, "public, max-age=31536000, immutable");
    },
  );
}
