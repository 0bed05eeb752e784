// sha256 of the install stream's stored bytes. With more than two CPUs, on a thread of its own
// (batched-thread.ts), so that hashing runs beside the download and the decoder instead of between them
// (~2–3 s of a 12 s stream of the Debian image under emulation). At most MAX_IN_FLIGHT_BYTES wait for the
// hash: a slower hash holds back the download, as a slow disk does. With one or two CPUs the hash stays
// inline: the second CPU goes to the decoder (decode-thread.ts), which gains more. Measured in a 2-vCPU VM
// (Debian image, 553 MB raw): with the decoder on its thread, a third thread for the hash streamed at
// 0.79 of the shell pipeline against 0.87 with the hash inline. In a 1-vCPU VM a hash thread only added
// copies and switches (33 MB/s against 42).
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { BatchedThread } from "./batched-thread.js";

const MAX_IN_FLIGHT_BYTES = 32 << 20;

// The thread (batched-thread.ts runs it): each batch acknowledged by its length, `null` ends the hash.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const hash = require("node:crypto").createHash("sha256");
let ms = 0;
parentPort.on("message", (chunk) => {
  if (chunk === null) {
    parentPort.postMessage({ sha256: hash.digest("hex"), ms });
    return;
  }
  const started = performance.now();
  hash.update(new Uint8Array(chunk));
  ms += performance.now() - started;
  parentPort.postMessage(chunk.byteLength);
});
`;

export interface HashResult {
  sha256: string;
  /** Time spent hashing: on the worker beside the rest of the stream, or inline as part of it. */
  hashMs: number;
  /** Time the stream waited for the hash to catch up. */
  waitMs: number;
}

/** What the stream needs of its hash, on a thread or inline. */
export interface StoredBytesHash {
  /** Takes `chunk`; a promise only when the stream must wait for the hash to catch up. */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The sha256 of every chunk given, in order; ends the hash. */
  digest(): Promise<HashResult>;
  /** Ends the hash without a digest (a stream that failed); idempotent. */
  close(): Promise<void>;
}

/** A worker thread's hash where there are more than two CPUs, else the main thread's. */
export function storedBytesHash(cpus = availableParallelism()): StoredBytesHash {
  return cpus > 2 ? new HashWorker() : new InlineHash();
}

export class InlineHash implements StoredBytesHash {
  private readonly hash = createHash("sha256");
  private hashMs = 0;

  update(chunk: Buffer): undefined {
    const started = performance.now();
    this.hash.update(chunk);
    this.hashMs += performance.now() - started;
  }

  digest(): Promise<HashResult> {
    return Promise.resolve({ sha256: this.hash.digest("hex"), hashMs: this.hashMs, waitMs: 0 });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class HashWorker implements StoredBytesHash {
  private readonly thread = new BatchedThread(WORKER_SOURCE, "sha256 worker", MAX_IN_FLIGHT_BYTES);
  private result: ((answer: { sha256: string; ms: number }) => void) | undefined;

  constructor() {
    this.thread.worker.on("message", (message: number | { sha256: string; ms: number }) => {
      if (typeof message === "number") this.thread.done(message);
      else this.result?.(message);
    });
  }

  update(chunk: Buffer): Promise<void> | undefined {
    return this.thread.push(chunk);
  }

  async digest(): Promise<HashResult> {
    const answer = await this.thread.end(
      null,
      new Promise<{ sha256: string; ms: number }>((resolve) => (this.result = resolve)),
    );
    return { sha256: answer.sha256, hashMs: answer.ms, waitMs: this.thread.waitMs };
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
