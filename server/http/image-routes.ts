// The image store's API: upload (streamed, verified, atomic), list, show with read counters, and the
// bytes themselves (batched fan-out, or a stream of its own for a Range resume).
import { stat } from "node:fs/promises";
import {
  ImageFormat,
  UploadComplete,
  UploadStart,
  ImageName,
  ImagePurpose,
  type ImageDetail,
  type ImageList,
  type ImageRecord,
} from "../../protocol/index.js";
import { shaOfRef } from "../db/image-catalog.js";
import type { Store } from "../db/store.js";
import { ApiError, ServerError } from "../errors.js";
import type { BlobStore } from "../images/blob-store.js";
import type { ImageFanout } from "../images/fanout.js";
import type { UploadService } from "../images/uploads.js";
import { readBody } from "./body.js";
import { Router, sendJson } from "./router.js";

export interface ImageRouteDeps {
  store: Store;
  blobs: BlobStore;
  fanout: ImageFanout;
  uploads: UploadService;
  bodyLimitBytes: number;
}

/** `bytes=N-` or `bytes=N-M` → the start (we always serve to the end); undefined without a Range. */
export function parseRangeStart(
  header: string | undefined,
  size: number,
): number | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!match?.[1]) return "unsatisfiable";
  const start = Number(match[1]);
  return start < size ? start : "unsatisfiable";
}

function queryValue<T>(
  url: URL,
  name: string,
  schema: { safeParse: (v: unknown) => { success: boolean; data?: T } },
  fallback?: T,
): T {
  const raw = url.searchParams.get(name);
  if (raw === null) {
    if (fallback !== undefined) return fallback;
    throw new ApiError("invalid_parameter", `query parameter ${name} is required`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success || parsed.data === undefined)
    throw new ApiError("invalid_parameter", `query parameter ${name}=${raw} is not valid`);
  return parsed.data;
}

export function addImageRoutes(router: Router, deps: ImageRouteDeps): void {
  const mustFind = async (ref: string): Promise<ImageRecord> => {
    const image = await deps.store.images.find(ref);
    if (!image) throw new ApiError("not_found", `no image ${ref}`);
    return image;
  };

  // Upload: the body is the image's bytes. The declared sha256 (x-bootwright-sha256) is checked.
  router.on("PUT", "/v1/images", async (ctx) => {
    const name = queryValue(ctx.url, "name", ImageName);
    const format = queryValue(ctx.url, "format", ImageFormat);
    const purpose = queryValue(ctx.url, "purpose", ImagePurpose, "os");
    const declared = ctx.req.headers["x-bootwright-sha256"];
    const blob = await deps.blobs.ingest(ctx.req, typeof declared === "string" ? declared : undefined);
    const outcome = await deps.store.images.add({
      ...blob,
      name,
      format,
      purpose,
      createdAt: new Date().toISOString(),
      origin: null,
    });
    if ("captured" in outcome)
      throw new ServerError("an operator's upload has no origin: cannot be a capture");
    if ("conflict" in outcome)
      throw new ApiError(
        "image_conflict",
        `these bytes are already stored as image ${outcome.conflict.name} (sha256 ${blob.sha256})`,
        { existing: outcome.conflict },
      );
    ctx.log.info(
      { image: name, sha256: blob.sha256, bytes: blob.sizeBytes, added: outcome.added },
      "image stored",
    );
    sendJson(ctx.res, outcome.added ? 201 : 200, { image: outcome.record });
  });

  router.on("GET", "/v1/images", async (ctx) => {
    const list: ImageList = { images: await deps.store.images.list() };
    sendJson(ctx.res, 200, list);
  });

  router.on("GET", "/v1/images/:ref", async (ctx) => {
    const image = await mustFind(ctx.params.ref ?? "");
    const detail: ImageDetail = { image, reads: deps.fanout.readStats(image.sha256) };
    sendJson(ctx.res, 200, detail);
  });

  // Captured images: open a resumable upload, send chunks (each with its offset and sha256), complete.
  router.on("POST", "/v1/uploads", async (ctx) => {
    const start = await readBody(ctx.req, deps.bodyLimitBytes, UploadStart, "upload start");
    const state = await deps.uploads.start(start, new Date());
    ctx.log.info(
      {
        upload: state.id,
        recipe: start.origin.recipe,
        machine: start.origin.sourceMachine,
        state: state.state,
      },
      "upload opened",
    );
    sendJson(ctx.res, state.state === "open" ? 201 : 200, state);
  });

  router.on("GET", "/v1/uploads/:id", async (ctx) => {
    sendJson(ctx.res, 200, await deps.uploads.state(ctx.params.id ?? ""));
  });

  router.on("PUT", "/v1/uploads/:id/chunks/:offset", async (ctx) => {
    const offset = Number(ctx.params.offset);
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new ApiError("invalid_parameter", `not an offset: ${ctx.params.offset ?? ""}`);
    const sha = ctx.req.headers["x-bootwright-chunk-sha256"];
    const state = await deps.uploads.appendChunk(
      ctx.params.id ?? "",
      offset,
      typeof sha === "string" ? sha : undefined,
      ctx.req,
    );
    sendJson(ctx.res, 200, state);
  });

  router.on("POST", "/v1/uploads/:id/complete", async (ctx) => {
    const body = await readBody(ctx.req, deps.bodyLimitBytes, UploadComplete, "upload completion");
    const done = await deps.uploads.complete(ctx.params.id ?? "", body, new Date());
    ctx.log.info(
      { upload: ctx.params.id, image: done.image.sha256, duplicate: done.duplicate },
      "upload completed",
    );
    sendJson(ctx.res, done.duplicate ? 200 : 201, done);
  });

  // The bytes. ?machine=<id> lets the server batch machines installing the same image.
  router.on("GET", "/v1/images/:sha/blob", async (ctx) => {
    const sha = shaOfRef(ctx.params.sha ?? "");
    if (!sha) throw new ApiError("invalid_parameter", `not a sha256: ${ctx.params.sha ?? ""}`);
    const image = await mustFind(sha);
    const path = deps.blobs.path(sha);
    const onDisk = await stat(path).catch(() => undefined);
    if (onDisk?.size !== image.sizeBytes)
      throw new ApiError(
        "internal",
        `image ${sha} is damaged on the server: ${onDisk ? `${onDisk.size} bytes` : "no file"} where ${image.sizeBytes} were stored`,
      );
    const start = parseRangeStart(ctx.req.headers.range, image.sizeBytes);
    if (start === "unsatisfiable") {
      ctx.res.setHeader("content-range", `bytes */${image.sizeBytes}`);
      throw new ApiError(
        "range_not_satisfiable",
        `range ${ctx.req.headers.range ?? ""} is outside 0-${image.sizeBytes - 1}`,
      );
    }
    const from = start ?? 0;
    const headers: Record<string, string | number> = {
      "content-type": "application/octet-stream",
      "content-length": image.sizeBytes - from,
      "accept-ranges": "bytes",
      "x-bootwright-sha256": sha,
    };
    if (start !== undefined)
      headers["content-range"] = `bytes ${from}-${image.sizeBytes - 1}/${image.sizeBytes}`;
    ctx.res.writeHead(start === undefined ? 200 : 206, headers);
    const machine = ctx.url.searchParams.get("machine") ?? undefined;
    await deps.fanout.serve({ sha256: sha, path, sizeBytes: image.sizeBytes }, ctx.res, machine, from);
  });
}
