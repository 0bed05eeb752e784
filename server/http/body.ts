// Reads a JSON request body with a size limit; failures are ApiErrors the router turns into 4xx.
import type { IncomingMessage } from "node:http";
import type { z } from "zod";
import { toSchemaIssues } from "../../protocol/index.js";
import { ApiError } from "../errors.js";

/** The whole body as bytes, refused (413) past `limitBytes`, declared or not. */
export async function readRawBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) {
    throw new ApiError("body_too_large", `body of ${declared} bytes is over the limit of ${limitBytes}`, {
      limitBytes,
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      throw new ApiError("body_too_large", `body is over the limit of ${limitBytes} bytes`, { limitBytes });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new ApiError(
      "unsupported_media_type",
      `expected content-type application/json, got ${type || "none"}`,
    );
  }
  const text = (await readRawBody(req, limitBytes)).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError(
      "invalid_json",
      `request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Reads the JSON body and parses it with its schema; a mismatch is a 422 listing each issue's path. */
export async function readBody<T>(
  req: IncomingMessage,
  limitBytes: number,
  schema: z.ZodType<T>,
  what: string,
): Promise<T> {
  const parsed = schema.safeParse(await readJsonBody(req, limitBytes));
  if (!parsed.success) {
    throw new ApiError(
      "schema_mismatch",
      `${what} does not match the schema`,
      toSchemaIssues(parsed.error.issues),
    );
  }
  return parsed.data;
}
