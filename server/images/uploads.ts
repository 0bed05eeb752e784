// Resumable, chunked uploads of captured images (seed 003 claims 3, 7, 17). Each chunk names its offset
// and sha256: a chunk that does not start where the upload stands is refused with where it stands, a
// corrupted chunk is refused (the agent sends it again), and `received` moves only after the chunk is
// fsynced, so a server killed mid-upload resumes from bytes the disk really holds. Completing re-reads
// the whole file through the image store's checks (sha256, a complete zstd stream): only then does the
// image become visible, with its origin. One open upload per recipe and configuration; if two machines
// of one configuration capture anyway, the first image stored wins and the second is dropped.
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { open, readdir, rm, stat, truncate } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import type { UploadCompleted, UploadComplete, UploadStart, UploadState } from "../../protocol/index.js";
import type { ImageCatalog, UploadCatalog, UploadRecord } from "./catalog.js";
import { ApiError } from "../errors.js";
import type { BlobStore } from "./blob-store.js";

/** Largest chunk accepted: the agent sends 8 MiB. */
export const MAX_CHUNK_BYTES = 64 << 20;

function stateOf(record: UploadRecord): UploadState {
  return { id: record.id, received: record.received, state: record.state, image: record.image };
}

async function readChunk(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CHUNK_BYTES)
      throw new ApiError("body_too_large", `chunk is over ${MAX_CHUNK_BYTES} bytes`, {
        limitBytes: MAX_CHUNK_BYTES,
      });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** An abandoned upload the garbage collection removed: its id (its file's name) and the bytes it held. */
export interface CollectedUpload {
  id: string;
  bytes: number;
}

export class UploadService {
  /** Chunks of one upload are applied one at a time. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly dir: string,
    private readonly uploads: UploadCatalog,
    private readonly images: ImageCatalog,
    private readonly blobs: BlobStore,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private path(id: string): string {
    return join(this.dir, id);
  }

  private serial<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.busy.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.busy.set(id, settled);
    // The last one out clears the entry: the map holds only uploads with work in flight.
    void settled.then(() => {
      if (this.busy.get(id) === settled) this.busy.delete(id);
    });
    return next;
  }

  private async mustGet(id: string): Promise<UploadRecord> {
    const record = await this.uploads.get(id);
    if (!record) throw new ApiError("not_found", `no upload ${id}`);
    return record;
  }

  /** Opens an upload; an image already captured for this origin is answered as complete, with nothing to send. */
  async start(body: UploadStart, at: Date): Promise<UploadState> {
    const existing = await this.images.findCaptured(body.origin.recipe, body.origin.fingerprint);
    if (existing) return { id: "", received: 0, state: "complete", image: existing.sha256 };
    const record: UploadRecord = {
      id: randomUUID(),
      name: body.name,
      format: body.format,
      purpose: body.purpose ?? "os",
      origin: body.origin,
      received: 0,
      state: "open",
      image: null,
      createdAt: at.toISOString(),
    };
    const outcome = await this.uploads.open(record);
    if ("busy" in outcome)
      throw new ApiError(
        "capture_in_progress",
        `machine ${outcome.busy.origin.sourceMachine} is capturing recipe ${body.origin.recipe} for this configuration (upload ${outcome.busy.id}, ${outcome.busy.received} bytes so far)`,
        { upload: outcome.busy.id, sourceMachine: outcome.busy.origin.sourceMachine },
      );
    await (await open(this.path(record.id), "w")).close();
    return stateOf(outcome.opened);
  }

  async state(id: string): Promise<UploadState> {
    return stateOf(await this.mustGet(id));
  }

  appendChunk(
    id: string,
    offset: number,
    declaredSha256: string | undefined,
    req: IncomingMessage,
  ): Promise<UploadState> {
    return this.serial(id, async () => {
      const record = await this.mustGet(id);
      if (record.state !== "open")
        throw new ApiError("upload_offset", `upload ${id} is already complete`, {
          received: record.received,
        });
      const chunk = await readChunk(req);
      if (offset !== record.received)
        throw new ApiError(
          "upload_offset",
          `chunk starts at ${offset} but upload ${id} stands at ${record.received}`,
          {
            received: record.received,
          },
        );
      const actual = createHash("sha256").update(chunk).digest("hex");
      if (declaredSha256 !== actual)
        throw new ApiError(
          "image_invalid",
          `chunk at ${offset} (${chunk.length} bytes) has sha256 ${actual}, not the ${declaredSha256 ?? "(none)"} sent with it: send it again`,
          { received: record.received },
        );
      const file = await open(this.path(id), "r+");
      try {
        await file.write(chunk, 0, chunk.length, offset);
        await file.sync();
      } catch (err) {
        if (err instanceof Error && "code" in err && (err.code === "ENOSPC" || err.code === "EDQUOT"))
          throw new ApiError(
            "insufficient_storage",
            `the image store is full: chunk at ${offset} of upload ${id} not stored; the upload stays at ${record.received} and can resume once there is space`,
            { received: record.received },
            { cause: err },
          );
        throw err;
      } finally {
        await file.close();
      }
      const received = offset + chunk.length;
      await this.uploads.setReceived(id, received, new Date().toISOString());
      return { ...stateOf(record), received };
    });
  }

  complete(id: string, body: UploadComplete, at: Date): Promise<UploadCompleted> {
    return this.serial(id, async () => {
      const record = await this.mustGet(id);
      if (record.state === "complete" && record.image) {
        const image = await this.images.find(record.image);
        if (image) return { image, duplicate: image.origin?.sourceMachine !== record.origin.sourceMachine };
        // Its bytes left the upload when it completed: a retry after the image's deletion has none to redo.
        throw new ApiError("not_found", `upload ${id} became image ${record.image}, which was deleted since`);
      }
      if (body.sizeBytes !== record.received)
        throw new ApiError(
          "upload_offset",
          `upload ${id} holds ${record.received} bytes, not the ${body.sizeBytes} declared`,
          {
            received: record.received,
          },
        );
      // A crash after a write but before its `received` was recorded leaves extra bytes: drop them.
      if ((await stat(this.path(id))).size > record.received) await truncate(this.path(id), record.received);
      // Moved into the store once verified, not copied: a captured disk is hundreds of MB.
      const blob = await this.blobs.adopt(this.path(id), body.sha256);
      const outcome = await this.images.add({
        ...blob,
        name: record.name,
        format: record.format,
        purpose: record.purpose,
        createdAt: at.toISOString(),
        origin: { ...record.origin, capturedAt: at.toISOString() },
      });
      if ("conflict" in outcome)
        throw new ApiError(
          "image_conflict",
          `these bytes are already stored as image ${outcome.conflict.name}`,
          {
            existing: outcome.conflict,
          },
        );
      const image = "captured" in outcome ? outcome.captured : outcome.record;
      await this.uploads.complete(id, image.sha256, at.toISOString());
      await rm(this.path(id), { force: true });
      return { image, duplicate: "captured" in outcome };
    });
  }

  /**
   * Drops abandoned captures: open uploads with no chunk since `before` (the row goes, freeing its
   * recipe and configuration for the next machine, and so does its file), and files of the uploads
   * directory no open upload owns (left by a crash between completing and removing), last written
   * before `before`. Each under its upload's lock, so no chunk is being written meanwhile.
   */
  async abandon(before: Date): Promise<CollectedUpload[]> {
    const removed: CollectedUpload[] = [];
    const drop = async (id: string): Promise<void> => {
      const info = await stat(this.path(id)).catch(() => undefined);
      await rm(this.path(id), { force: true });
      removed.push({ id, bytes: info?.isFile() ? info.size : 0 });
    };
    for (const upload of await this.uploads.idle(before.toISOString()))
      await this.serial(upload.id, async () => {
        if (await this.uploads.removeIdle(upload.id, before.toISOString())) await drop(upload.id);
      });
    for (const name of await readdir(this.dir)) {
      if (removed.some((upload) => upload.id === name)) continue;
      await this.serial(name, async () => {
        if ((await this.uploads.get(name))?.state === "open") return;
        const info = await stat(this.path(name)).catch(() => undefined);
        if (info?.isFile() && info.mtimeMs < before.getTime()) await drop(name);
      });
    }
    return removed;
  }
}
