// Capture (seed 003): images what the install script built — the disk's first `bytes` (through its last
// partition), zstd-compressed on the way — and uploads it in chunks the server acknowledges one by one.
// A dropped connection, a corrupted chunk or a server restart costs at most one chunk: the agent asks the
// server where the upload stands and goes on from there. The server verifies the whole before the image
// becomes visible, and keeps at most one image per recipe and configuration.
import { backoffDelayMs, type BackoffPolicy } from "../shared/backoff.js";
import { credentialHeaders } from "../shared/credential.js";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { request } from "undici";
import {
  BootwrightError,
  ErrorBody,
  hasCode,
  UploadCompleted,
  UploadState,
  type ImageRecord,
  type UploadStart,
} from "../../protocol/index.js";
import { describeError } from "./describe-error.js";
import { loadZstd } from "./native.js";

export const CHUNK_BYTES = 8 << 20;
/** A chunk the server did not take is sent again after 0.5, 1, 2, 4, then every 5 s. */
const CHUNK_RETRY: BackoffPolicy = { initialMs: 500, maxMs: 5_000, jitter: 0 };

export interface CaptureOptions {
  serverUrl: string;
  /** The machine's credential: every upload call carries it. */
  credential: string;
  /** The disk (or file) to image, and how many bytes of it. */
  device: string;
  bytes: number;
  start: UploadStart;
  signal: AbortSignal;
  onProgress?: (p: { readBytes: number; uploadedBytes: number; totalBytes: number }) => void;
  onRetry?: (offset: number, reason: string) => void;
  /** How long to keep retrying one chunk before giving up. */
  retryWindowMs?: number;
  chunkBytes?: number;
}

export type CaptureResult =
  | {
      kind: "uploaded";
      image: ImageRecord;
      duplicate: boolean;
      uploadedBytes: number;
      retries: number;
      ms: number;
    }
  /** Nothing sent: an image for this recipe and configuration exists, or another machine is capturing it. */
  | { kind: "skipped"; reason: string; image: string | null };

class UploadRefused extends BootwrightError<"upload_refused"> {
  constructor(status: number, body: ErrorBody | undefined) {
    super("upload_refused", `HTTP ${status}${body ? ` ${body.code}: ${body.message}` : ""}`, {
      status,
      serverCode: body?.code ?? null,
      serverMessage: body?.message ?? null,
    });
  }
}

async function call(
  url: string,
  method: "GET" | "POST" | "PUT",
  body: Buffer | string | undefined,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<unknown> {
  const response = await request(url, {
    method,
    body: body ?? null,
    headers,
    signal,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.statusCode >= 300) {
    const error = ErrorBody.safeParse(json);
    throw new UploadRefused(response.statusCode, error.success ? error.data : undefined);
  }
  return json;
}

export async function captureAndUpload(options: CaptureOptions): Promise<CaptureResult> {
  const { serverUrl, signal } = options;
  const started = performance.now();
  const auth = credentialHeaders(options);
  const json = { ...auth, "content-type": "application/json" };
  let opened: UploadState;
  try {
    opened = UploadState.parse(
      await call(`${serverUrl}/v1/uploads`, "POST", JSON.stringify(options.start), json, signal),
    );
  } catch (err) {
    if (hasCode(err, "upload_refused") && err.context.serverCode === "capture_in_progress")
      return { kind: "skipped", reason: err.context.serverMessage ?? err.message, image: null };
    throw err;
  }
  if (opened.state === "complete")
    return {
      kind: "skipped",
      reason: "an image of this recipe and configuration is already stored",
      image: opened.image,
    };

  const chunkUrl = (offset: number): string => `${serverUrl}/v1/uploads/${opened.id}/chunks/${offset}`;
  const whole = createHash("sha256");
  let uploaded = 0;
  let readBytes = 0;
  let retries = 0;

  /** Sends one chunk until the server holds it: resends after a refusal or a lost answer. */
  const sendChunk = async (chunk: Buffer): Promise<void> => {
    const sha = createHash("sha256").update(chunk).digest("hex");
    const offset = uploaded;
    const deadline = Date.now() + (options.retryWindowMs ?? 300_000);
    for (let attempt = 1; ; attempt++) {
      try {
        await call(
          chunkUrl(offset),
          "PUT",
          chunk,
          { ...auth, "content-type": "application/octet-stream", "x-bootwright-chunk-sha256": sha },
          signal,
        );
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        if (hasCode(err, "upload_refused")) {
          const { status, serverCode } = err.context;
          if (serverCode === "insufficient_storage") throw err;
          if (status < 500 && serverCode !== "image_invalid" && serverCode !== "upload_offset") throw err;
        }
        if (Date.now() > deadline)
          throw new Error(`chunk at ${offset} not accepted after ${attempt} tries: ${describeError(err)}`, {
            cause: err,
          });
        retries += 1;
        options.onRetry?.(offset, describeError(err));
        await delay(backoffDelayMs(attempt, CHUNK_RETRY), undefined, { signal });
        // Where does the upload stand? The server may have stored this chunk before the answer was lost.
        try {
          const state = UploadState.parse(
            await call(`${serverUrl}/v1/uploads/${opened.id}`, "GET", undefined, auth, signal),
          );
          if (state.received === offset + chunk.length) return;
          if (state.received !== offset)
            throw new Error(
              `upload ${opened.id} stands at ${state.received}, expected ${offset} or ${offset + chunk.length}`,
            );
        } catch (stateErr) {
          if (stateErr instanceof Error && stateErr.message.startsWith(`upload ${opened.id} stands`))
            throw stateErr;
          // the server is still away: try the chunk again
        }
      }
    }
  };

  const zstd = loadZstd();
  const compressor = new zstd.CompressStream({ compressionLevel: 3 });
  const source = createReadStream(options.device, {
    start: 0,
    end: options.bytes - 1,
    highWaterMark: 4 << 20,
  });
  source.on("data", (piece: Buffer | string) => {
    readBytes += piece.length;
  });
  source.on("error", (err) => compressor.destroy(err));
  source.pipe(compressor);
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Pipelined: chunk N goes over the wire (and into the server's fsync) while chunk N+1 is read and
  // compressed. One chunk in flight at a time, since the server takes them in order.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    const chunk = Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    await inFlight;
    inFlight = sendChunk(chunk).then(() => {
      whole.update(chunk);
      uploaded += chunk.length;
      options.onProgress?.({ readBytes, uploadedBytes: uploaded, totalBytes: options.bytes });
    });
    // Its failure is thrown where it is awaited: at the next flush or after the last chunk.
    inFlight.catch(() => undefined);
  };
  try {
    for await (const piece of compressor as AsyncIterable<Buffer>) {
      pending.push(piece);
      pendingBytes += piece.length;
      if (pendingBytes >= chunkBytes) await flush();
    }
    if (pendingBytes > 0) await flush();
    await inFlight;
  } finally {
    source.destroy();
    compressor.destroy();
  }
  if (readBytes !== options.bytes)
    throw new Error(`read ${readBytes} of ${options.bytes} bytes from ${options.device}`);

  // Completing is idempotent on the server: after a lost answer or a restart, asking again is safe.
  const completion = JSON.stringify({ sha256: whole.digest("hex"), sizeBytes: uploaded });
  let done: UploadCompleted | undefined;
  const deadline = Date.now() + (options.retryWindowMs ?? 300_000);
  while (!done) {
    try {
      done = UploadCompleted.parse(
        await call(`${serverUrl}/v1/uploads/${opened.id}/complete`, "POST", completion, json, signal),
      );
    } catch (err) {
      if (signal.aborted || hasCode(err, "upload_refused") || Date.now() > deadline) throw err;
      retries += 1;
      options.onRetry?.(uploaded, describeError(err));
      await delay(1_000, undefined, { signal });
    }
  }
  return {
    kind: "uploaded",
    image: done.image,
    duplicate: done.duplicate,
    uploadedBytes: uploaded,
    retries,
    ms: Math.round(performance.now() - started),
  };
}
