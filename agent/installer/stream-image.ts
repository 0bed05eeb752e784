// The install stream: HTTP (undici's parser straight to a sink: http-body.ts) → sha256 of the stored
// bytes (stored-bytes-hash.ts) and zstd (image-decoder.ts, or decode-thread.ts with a second CPU) → large
// sequential writes to the target (a block device with O_DIRECT, or a file on a host: image-target.ts).
// A dropped connection or a server restart resumes with `Range: bytes=<received>-` into the same
// decoder, so the stream goes on where it stopped.
// The stored bytes' sha256 and both sizes are checked at the end: a mismatch is an error, never a success.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { BootwrightError, hasCode, type FailureContext } from "../../protocol/failure.js";
import type { ImageSource } from "../../protocol/index.js";
import { backoffDelayMs, RESUME_BACKOFF } from "../shared/backoff.js";
import { describeError } from "./describe-error.js";
import { receiveBody } from "./http-body.js";
import { ImageTarget } from "./image-target.js";
import { storedBytesHash } from "./stored-bytes-hash.js";
import { DecodeThread } from "./decode-thread.js";
import { ImageDecoder, TargetWriteError, type DecodeTimings, type ImageWriter } from "./image-decoder.js";

export interface StreamProgress {
  /** Stored (compressed) bytes received. */
  bytes: number;
  totalBytes: number;
  /** Raw bytes written to the target. */
  rawBytes: number;
  /** Raw MB/s since the start. */
  rateMBs: number;
  resumes: number;
}

export interface StreamImageOptions {
  url: string;
  /**
   * Offline media: the stored bytes are this file on the mounted media, read instead of `url` (same
   * decoder, same checks; a read error resumes at the same offset as a dropped connection does).
   */
  file?: string | undefined;
  /** Sent with every request (the machine's credential). */
  headers?: Readonly<Record<string, string>>;
  source: ImageSource;
  /** A block device or a file; opened for writing without truncation. */
  target: string;
  signal: AbortSignal;
  onProgress?: (progress: StreamProgress) => void;
  /** How often onProgress is called. */
  progressEveryMs?: number;
  /** How long to keep trying to resume without receiving a byte before giving up. */
  resumeWindowMs?: number;
  onResume?: (atBytes: number, reason: string) => void;
  /**
   * The CPUs this stream may count on (default: the machine's): with two it decodes on a thread of its
   * own, with more than two it hashes on another. Several agents sharing one host's cores (the batch
   * benchmark) say how few they have.
   */
  cpus?: number | undefined;
}

export interface StreamResult {
  bytes: number;
  rawBytes: number;
  sha256: string;
  ms: number;
  rateMBs: number;
  resumes: number;
  /**
   * Where the time went (the benchmark's per-stage breakdown); the main thread's other time goes to HTTP
   * parsing, the streams' machinery and waiting for the network. With the decoder on its thread, its
   * decode time runs beside the main thread's.
   */
  stages: DecodeTimings & {
    hashMs: number;
    hashWaitMs: number;
    /** The HTTP body's chunks (each hashed and decoded as it comes). */
    chunks: number;
  };
}

export class ImageIntegrityError extends BootwrightError<"image_integrity"> {
  constructor(message: string, context: FailureContext<"image_integrity">, options?: ErrorOptions) {
    super("image_integrity", message, context, options);
  }
}

/** A failure that resuming cannot fix (the server refused the request, or ignored Range). */
class FatalStreamError extends BootwrightError<"image_stream_refused"> {
  constructor(message: string, context: FailureContext<"image_stream_refused">) {
    super("image_stream_refused", message, context);
  }
}

export async function streamImage(options: StreamImageOptions): Promise<StreamResult> {
  const { source, signal } = options;
  const started = performance.now();
  const cpus = options.cpus ?? availableParallelism();
  const storedHash = storedBytesHash(cpus);
  let received = 0;
  let resumes = 0;
  let chunks = 0;
  const handle = await open(options.target, "r+").catch(async (err: unknown) => {
    await storedHash.close();
    throw err;
  });
  // The decoder opens the target itself (with O_DIRECT when it is a block device: image-target.ts); this
  // handle checks it up front, and its sync at the end covers the decoder's writes too (fsync flushes the
  // file's or the device's data and the disk's cache, whichever fd wrote it).
  const writer: ImageWriter =
    cpus > 1
      ? new DecodeThread(options.target)
      : await ImageTarget.open(options.target).then(
          (target) => new ImageDecoder(target, options.target),
          async (err: unknown) => {
            await handle.close();
            await storedHash.close();
            throw err;
          },
        );
  // A write error ends the transfer at once; after a decoding error the rest is only hashed.
  let writeFailure: unknown;

  const progress = (): StreamProgress => {
    const seconds = (performance.now() - started) / 1000;
    return {
      bytes: received,
      totalBytes: source.sizeBytes,
      rawBytes: writer.position,
      rateMBs: seconds > 0 ? Math.round((writer.position / 1e6 / seconds) * 10) / 10 : 0,
      resumes,
    };
  };
  const timer = setInterval(() => options.onProgress?.(progress()), options.progressEveryMs ?? 2_000);

  /** Hashes and decodes one chunk of the stored bytes; a promise when the hash or the decoder is behind. */
  const take = (chunk: Buffer): Promise<void> | undefined => {
    // A write error ends the transfer (receiveBody aborts the request); the loop below reports it.
    if (hasCode(writeFailure, "target_write")) throw writeFailure;
    chunks += 1;
    const hashing = storedHash.update(chunk);
    received += chunk.length;
    // After a decoding failure the rest is only hashed: the error then says whether the bytes differ.
    let decoding: Promise<void> | undefined;
    if (writeFailure === undefined)
      try {
        decoding = writer.feed(chunk)?.catch((err: unknown) => {
          writeFailure = err;
        });
      } catch (err) {
        writeFailure = err;
      }
    if (hashing && decoding) return Promise.all([hashing, decoding]).then(() => undefined);
    return hashing ?? decoding;
  };

  /** Reads from `received` on (one GET, or the media's file); returns when the body ends (maybe early). */
  const fetchFrom = async (): Promise<void> => {
    if (options.file !== undefined) {
      for await (const chunk of createReadStream(options.file, {
        start: received,
        highWaterMark: 2 ** 20,
        signal,
      }) as AsyncIterable<Buffer>)
        await take(chunk);
      return;
    }
    const from = received;
    await receiveBody(
      options.url,
      {
        headers: { ...options.headers, ...(from > 0 ? { range: `bytes=${from}-` } : {}) },
        signal,
        timeoutMs: 30_000,
        onStatus: (status) => {
          if (from > 0 && status !== 206)
            throw new FatalStreamError(
              `server answered ${status} to Range bytes=${from}-: cannot resume mid-stream`,
              { url: options.url, status },
            );
        },
        onErrorAnswer: ({ status, text }) =>
          status < 500
            ? new FatalStreamError(`GET ${options.url}: HTTP ${status} ${text.slice(0, 300)}`, {
                url: options.url,
                status,
              })
            : new Error(`GET ${options.url}: HTTP ${status}`),
      },
      take,
    );
  };

  try {
    let lastProgressAt = Date.now();
    let lastReceived = 0;
    while (received < source.sizeBytes && !hasCode(writeFailure, "target_write")) {
      try {
        await fetchFrom();
        if (received < source.sizeBytes && !hasCode(writeFailure, "target_write"))
          throw new Error(`the response ended at ${received} of ${source.sizeBytes} bytes`);
      } catch (err) {
        if (hasCode(writeFailure, "target_write")) break;
        if (hasCode(err, "image_stream_refused") || signal.aborted) throw err;
        if (received > lastReceived) {
          lastReceived = received;
          lastProgressAt = Date.now();
        }
        const window = options.resumeWindowMs ?? 300_000;
        if (Date.now() - lastProgressAt > window)
          throw new Error(
            `no image bytes for ${Math.round(window / 1000)} s, stopped at ${received} of ${source.sizeBytes}: ${describeError(err)}`,
            { cause: err },
          );
        resumes += 1;
        options.onResume?.(received, describeError(err));
        await delay(backoffDelayMs(resumes, RESUME_BACKOFF), undefined, { signal });
      }
    }
    if (writeFailure === undefined)
      await writer.finish().catch((err: unknown) => {
        writeFailure = err;
      });
    if (writeFailure === undefined) await handle.sync();
  } catch (err) {
    await writer.finish().catch(() => undefined);
    await storedHash.close();
    throw err;
  } finally {
    clearInterval(timer);
    await writer.close();
    await handle.close();
  }

  if (hasCode(writeFailure, "target_write")) {
    await storedHash.close();
    throw new TargetWriteError(
      `writing the image to ${options.target}: ${writeFailure.message}`,
      writeFailure.context,
      { cause: writeFailure },
    );
  }
  const { sha256, hashMs, waitMs: hashWaitMs } = await storedHash.digest();
  const integrity = { image: source.sha256, bytes: received, rawBytes: writer.position };
  const decoding =
    writeFailure === undefined ? "" : ` (decompressing it failed too: ${describeError(writeFailure)})`;
  if (received !== source.sizeBytes || sha256 !== source.sha256)
    throw new ImageIntegrityError(
      `image sha256 mismatch: received ${received} bytes with sha256 ${sha256}, expected ${source.sizeBytes} bytes with ${source.sha256}${decoding}`,
      integrity,
    );
  if (writeFailure !== undefined)
    throw new ImageIntegrityError(
      `image ${source.sha256} has the right sha256 but does not decompress: ${describeError(writeFailure)}`,
      integrity,
      { cause: writeFailure },
    );
  // The stored bytes' sha256 is checked above and zstd decoding is deterministic (each frame also carries
  // its own checksum): what reached the disk is the image. Hashing the raw bytes again measured as the
  // largest cost of the stream under emulation, so only their count is checked here.
  if (writer.position !== source.rawBytes)
    throw new ImageIntegrityError(
      `decompressed image is ${writer.position} bytes, expected ${source.rawBytes} (image ${source.sha256})`,
      integrity,
    );
  const ms = Math.round(performance.now() - started);
  const final = progress();
  options.onProgress?.(final);
  return {
    bytes: received,
    rawBytes: writer.position,
    sha256,
    ms,
    rateMBs: final.rateMBs,
    resumes,
    stages: { ...writer.timings, hashMs, hashWaitMs, chunks },
  };
}
