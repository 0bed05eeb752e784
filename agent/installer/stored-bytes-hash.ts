// sha256 of the install stream's stored bytes. With more than two CPUs, on a thread of its own, so that
// hashing runs beside the download and the decoder instead of between them (~2–3 s of a 12 s stream of
// the Debian image under emulation). The chunks are copied into 1 MiB batches, each transferred whole: the
// decoder still owns the originals, and the thread gets one message per MiB rather than per socket chunk.
// At most MAX_IN_FLIGHT_BYTES wait for the hash: a slower hash holds back the download, as a slow disk
// does. With one or two CPUs the hash stays inline. In a 1-vCPU VM a thread (then one message per chunk)
// only added copies and switches: 33 MB/s against 42. In a 2-vCPU VM neither way wins beyond this host's
// noise: per chunk 51.9 against 53.6 MB/s inline; batched, the same VM alternating the two gave
// 16.1/15.8/10.6 s on the thread against 18.5/12.2/12.1 s inline. Beyond two, a core is free for it.
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

const MAX_IN_FLIGHT_BYTES = 32 << 20;
/** The worker is handed whole batches: one message per MiB rather than per socket chunk (~64 KiB). */
const BATCH_BYTES = 1 << 20;

// CommonJS run by `new Worker(…, { eval: true })`: no file to find beside the loader's bundle.
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
  update(chunk: Buffer): Promise<void>;
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

  update(chunk: Buffer): Promise<void> {
    const started = performance.now();
    this.hash.update(chunk);
    this.hashMs += performance.now() - started;
    return Promise.resolve();
  }

  digest(): Promise<HashResult> {
    return Promise.resolve({ sha256: this.hash.digest("hex"), hashMs: this.hashMs, waitMs: 0 });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class HashWorker implements StoredBytesHash {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private inFlight = 0;
  // Unpooled, so its buffer is its own to transfer; not zeroed, since the chunks' copy fills it.
  private batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private batched = 0;
  private waitMs = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private result: ((answer: { sha256: string; ms: number }) => void) | undefined;
  private stopped: ((err: Error) => void) | undefined;

  constructor() {
    this.worker.on("message", (message: number | { sha256: string; ms: number }) => {
      if (typeof message === "number") {
        this.inFlight -= message;
        if (this.inFlight <= MAX_IN_FLIGHT_BYTES) this.wakeUp();
      } else this.result?.(message);
    });
    this.worker.on("error", (err) => {
      this.fail(err);
    });
    this.worker.on("exit", (code) => {
      this.fail(new Error(`the sha256 worker exited (code ${code})`));
    });
  }

  /**
   * Copies a chunk into the batch being filled, handing each full batch to the worker; waits only while
   * too many bytes are still unhashed.
   */
  async update(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    for (let offset = 0; offset < chunk.length;) {
      const taken = Math.min(chunk.length - offset, this.batch.length - this.batched);
      this.batch.set(chunk.subarray(offset, offset + taken), this.batched);
      this.batched += taken;
      offset += taken;
      if (this.batched === this.batch.length) this.send();
    }
    if (this.inFlight <= MAX_IN_FLIGHT_BYTES) return;
    const started = performance.now();
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.waitMs += performance.now() - started;
    this.throwIfFailed(); // woken by a failure rather than by the worker catching up
  }

  async digest(): Promise<HashResult> {
    this.throwIfFailed();
    this.send();
    const answer = await new Promise<{ sha256: string; ms: number }>((resolve, reject) => {
      this.result = resolve;
      this.stopped = reject;
      this.worker.postMessage(null);
    });
    await this.close();
    return { sha256: answer.sha256, hashMs: answer.ms, waitMs: this.waitMs };
  }

  async close(): Promise<void> {
    this.failure ??= new Error("the sha256 worker is closed");
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }

  /** Transfers what the batch holds to the worker (the batch's buffer goes with it) and starts a new one. */
  private send(): void {
    if (this.batched === 0) return;
    // The last, partial batch is copied into a buffer of its length: the worker hashes whole buffers.
    const full =
      this.batched === this.batch.length ? this.batch : new Uint8Array(this.batch.subarray(0, this.batched));
    this.inFlight += full.length;
    this.worker.postMessage(full.buffer, [full.buffer]);
    this.batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    this.batched = 0;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wakeUp();
    this.stopped?.(this.failure);
  }
}
