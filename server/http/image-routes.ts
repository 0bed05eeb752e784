// The image store's API: upload (streamed, verified, atomic), list, show with read counters, delete and
// garbage-collect, captured images' resumable uploads, and the bytes themselves (batched fan-out, or a
// stream of its own for a Range resume).
import { stat } from "node:fs/promises";
import * as z from "zod";
import {
  ImageFormat,
  UploadComplete,
  UploadStart,
  ImageName,
  ImagePurpose,
  type ImageDeleted,
  type ImageDetail,
  type ImageGcReport,
  type ImageList,
  type ImageRecord,
} from "../../protocol/index.js";
import { shaOfRef } from "../images/catalog.js";
import { ImageRemoval } from "../images/removal.js";
import { ApiError, ServerError } from "../errors.js";
import { assertMachine } from "./access.js";
import type { App, RouteDeps } from "./app.js";
import type { MachineCredentialRecord } from "../db/rows.js";

/** `bytes=N-` or `bytes=N-M` → the bytes to serve; undefined without a Range. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!match?.[1]) return "unsatisfiable";
  const start = Number(match[1]);
  // A bounded range (`bytes=N-M`, as a relay's nginx asks slice by slice) ends at M or the image's end.
  const end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  return start < size && start <= end ? { start, end } : "unsatisfiable";
}

/** Query strings as fastify parses them: each value a string (or, repeated, a list: the first counts). */
const Query = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
type Query = z.infer<typeof Query>;

function queryValue<T>(
  query: Query,
  name: string,
  schema: { safeParse: (v: unknown) => { success: boolean; data?: T } },
  fallback?: T,
): T {
  const raw = [query[name]].flat()[0];
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ApiError("invalid_parameter", `query parameter ${name} is required`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success || parsed.data === undefined)
    throw new ApiError("invalid_parameter", `query parameter ${name}=${raw} is not valid`);
  return parsed.data;
}

const header = (value: string | string[] | undefined): string | undefined =>
  typeof value === "string" ? value : undefined;

export function addImageRoutes(app: App, deps: RouteDeps): void {
  const { store } = deps;
  const mustFind = async (ref: string): Promise<ImageRecord> => {
    const image = await store.images.find(ref);
    if (!image) throw new ApiError("not_found", `no image ${ref}`);
    return image;
  };

  // Upload: the body is the image's bytes. The declared sha256 (x-bootwright-sha256) is checked.
  app.put(
    "/v1/images",
    { config: { access: "admin" }, schema: { querystring: Query }, bodyLimit: Number.MAX_SAFE_INTEGER },
    async (request, reply) => {
      const name = queryValue(request.query, "name", ImageName);
      const format = queryValue(request.query, "format", ImageFormat);
      const purpose = queryValue(request.query, "purpose", ImagePurpose, "os");
      const blob = await deps.blobs.ingest(request.raw, header(request.headers["x-bootwright-sha256"]));
      const outcome = await store.images.add({
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
      request.log.info(
        { image: name, sha256: blob.sha256, bytes: blob.sizeBytes, added: outcome.added },
        "image stored",
      );
      return reply.code(outcome.added ? 201 : 200).send({ image: outcome.record });
    },
  );

  const removal = new ImageRemoval(store.store, deps.blobs, deps.uploads);

  // The row goes now (audited, as every operator's change); the bytes once the streams reading them end.
  app.delete(
    "/v1/images/:ref",
    {
      config: { access: "admin" },
      schema: {
        params: z.object({ ref: z.string() }),
        querystring: z.object({ force: z.enum(["true", "false"]).default("false") }),
      },
    },
    async (request): Promise<ImageDeleted> => {
      const deleted = await removal.delete(request.params.ref, request.query.force === "true");
      request.log.info(
        {
          image: deleted.image.name,
          sha256: deleted.image.sha256,
          overridden: deleted.overridden,
          blobRemoved: deleted.blobRemoved,
        },
        "image deleted",
      );
      return deleted;
    },
  );

  app.post("/v1/images/gc", { config: { access: "admin" } }, async (request): Promise<ImageGcReport> => {
    const report = await removal.gc(new Date());
    request.log.info(report, "image store collected");
    return report;
  });

  app.get(
    "/v1/images",
    { config: { access: "viewer" } },
    async () => ({ images: await store.images.list() }) satisfies ImageList,
  );

  app.get(
    "/v1/images/:ref",
    { config: { access: "viewer" }, schema: { params: z.object({ ref: z.string() }) } },
    async (request) => {
      const image = await mustFind(request.params.ref);
      const detail: ImageDetail = { image, reads: deps.fanout.readStats(image.sha256) };
      return detail;
    },
  );

  /** A machine's credential reaches only the uploads its own captures opened; the capturing machine. */
  const ownUpload = async (
    credential: MachineCredentialRecord | null,
    id: string,
  ): Promise<string | undefined> => {
    const upload = await store.uploads.get(id);
    if (upload) assertMachine(credential, upload.origin.sourceMachine);
    return upload?.origin.sourceMachine;
  };

  // Captured images: open a resumable upload, send chunks (each with its offset and sha256), complete.
  app.post(
    "/v1/uploads",
    { schema: { body: UploadStart }, config: { access: "machine", what: "upload start" } },
    async (request, reply) => {
      const start = request.body;
      assertMachine(request.machine, start.origin.sourceMachine);
      const state = await deps.uploads.start(start, new Date());
      request.log.info(
        {
          upload: state.id,
          recipe: start.origin.recipe,
          machine: start.origin.sourceMachine,
          state: state.state,
        },
        "upload opened",
      );
      return reply.code(state.state === "open" ? 201 : 200).send(state);
    },
  );

  app.get(
    "/v1/uploads/:id",
    { config: { access: "machine" }, schema: { params: z.object({ id: z.string() }) } },
    async (request) => {
      await ownUpload(request.machine, request.params.id);
      return deps.uploads.state(request.params.id);
    },
  );

  app.put(
    "/v1/uploads/:id/chunks/:offset",
    {
      config: { access: "machine" },
      schema: { params: z.object({ id: z.string(), offset: z.string() }) },
      bodyLimit: Number.MAX_SAFE_INTEGER,
    },
    async (request) => {
      const machineId = await ownUpload(request.machine, request.params.id);
      const offset = Number(request.params.offset);
      if (!/^\d+$/.test(request.params.offset) || !Number.isSafeInteger(offset))
        throw new ApiError("invalid_parameter", `not an offset: ${request.params.offset}`);
      const state = await deps.uploads.appendChunk(
        request.params.id,
        offset,
        header(request.headers["x-bootwright-chunk-sha256"]),
        request.raw,
      );
      // A capture's size is known only at its end: the progress says how much arrived.
      if (machineId !== undefined) deps.progress.report(machineId, "capture", state.received, null);
      return state;
    },
  );

  app.post(
    "/v1/uploads/:id/complete",
    {
      schema: { params: z.object({ id: z.string() }), body: UploadComplete },
      config: { access: "machine", what: "upload completion" },
    },
    async (request, reply) => {
      await ownUpload(request.machine, request.params.id);
      const done = await deps.uploads.complete(request.params.id, request.body, new Date());
      request.log.info(
        { upload: request.params.id, image: done.image.sha256, duplicate: done.duplicate },
        "upload completed",
      );
      return reply.code(done.duplicate ? 200 : 201).send(done);
    },
  );

  // The bytes. ?machine=<id> lets the server batch machines installing the same image.
  app.get(
    "/v1/images/:sha/blob",
    { config: { access: "machine" }, schema: { params: z.object({ sha: z.string() }), querystring: Query } },
    async (request, reply) => {
      const sha = shaOfRef(request.params.sha);
      if (!sha) throw new ApiError("invalid_parameter", `not a sha256: ${request.params.sha}`);
      const image = await mustFind(sha);
      // Held from before the file is checked until the response ends: an image deleted meanwhile keeps
      // its file (in trash/) for this stream and for the batch it joins.
      const lease = deps.blobs.acquire(sha);
      try {
        const onDisk = await stat(deps.blobs.locate(sha)).catch(() => undefined);
        if (onDisk?.size !== image.sizeBytes) {
          // Deleted between the look-up and the hold: gone, not damaged.
          await mustFind(sha);
          throw new ApiError(
            "internal",
            `image ${sha} is damaged on the server: ${onDisk ? `${onDisk.size} bytes` : "no file"} where ${image.sizeBytes} were stored`,
          );
        }
        const range = header(request.headers.range);
        const wanted = parseRange(range, image.sizeBytes);
        if (wanted === "unsatisfiable") {
          void reply.header("content-range", `bytes */${image.sizeBytes}`);
          throw new ApiError(
            "range_not_satisfiable",
            `range ${range ?? ""} is outside 0-${image.sizeBytes - 1}`,
          );
        }
        const { start, end } = wanted ?? { start: 0, end: image.sizeBytes - 1 };
        const headers: Record<string, string | number> = {
          "content-type": "application/octet-stream",
          "content-length": end - start + 1,
          "accept-ranges": "bytes",
          "x-bootwright-sha256": sha,
        };
        if (wanted !== undefined) headers["content-range"] = `bytes ${start}-${end}/${image.sizeBytes}`;
        // The fan-out writes to the response itself, at the pace of the batch it puts this machine in.
        void reply.hijack();
        reply.raw.writeHead(wanted === undefined ? 200 : 206, headers);
        const machine = [request.query.machine].flat()[0];
        const blob = { sha256: sha, path: () => deps.blobs.locate(sha), sizeBytes: image.sizeBytes };
        await deps.fanout.serve(blob, reply.raw, machine, { start, end });
      } finally {
        await lease.release();
      }
    },
  );
}
