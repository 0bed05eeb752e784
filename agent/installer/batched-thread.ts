// Feeding a worker thread the install stream's bytes: chunks are copied into 1 MiB batches, each
// transferred whole, so the thread gets one message per MiB rather than per ~64 KiB socket chunk and the
// caller keeps its own buffers. At most `maxInFlightBytes` may wait for the thread: a slower thread holds
// back the caller, which holds back the download (back pressure end to end). The thread acknowledges what
// it has done; how it answers otherwise is its owner's business (stored-bytes-hash.ts, decode-thread.ts).
import { Worker } from "node:worker_threads";

const BATCH_BYTES = 1 << 20;

export class BatchedThread {
  readonly worker: Worker;
  /** Time the caller waited for the thread to catch up. */
  waitMs = 0;
  private inFlight = 0;
  // Unpooled, so its buffer is its own to transfer; not zeroed, since the chunks' copy fills it.
  private batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private batched = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly failed = new Set<(err: Error) => void>();

  /**
   * Starts `source` (CommonJS, evaluated: no file to find beside the loader's bundle); `name` says which
   * thread in errors.
   */
  constructor(
    source: string,
    private readonly name: string,
    private readonly maxInFlightBytes: number,
    workerData?: unknown,
  ) {
    this.worker = new Worker(source, { eval: true, workerData });
    this.worker.on("error", (err) => {
      this.fail(err);
    });
    this.worker.on("exit", (code) => {
      this.fail(new Error(`the ${name} exited (code ${code})`));
    });
  }

  /**
   * Copies `chunk` into the batch being filled, handing each full batch over. A promise only while too
   * much is queued (resolved once the thread caught up): no promise per chunk on the stream's hot path.
   */
  push(chunk: Buffer): Promise<void> | undefined {
    this.throwIfFailed();
    for (let offset = 0; offset < chunk.length;) {
      const taken = Math.min(chunk.length - offset, this.batch.length - this.batched);
      this.batch.set(chunk.subarray(offset, offset + taken), this.batched);
      this.batched += taken;
      offset += taken;
      if (this.batched === this.batch.length) this.send();
    }
    if (this.inFlight <= this.maxInFlightBytes) return undefined;
    return this.caughtUp();
  }

  private async caughtUp(): Promise<void> {
    const started = performance.now();
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.waitMs += performance.now() - started;
    this.throwIfFailed(); // woken by a failure rather than by the thread catching up
  }

  /** The thread has done `bytes` more (its acknowledgement). */
  done(bytes: number): void {
    this.inFlight -= bytes;
    if (this.inFlight <= this.maxInFlightBytes) this.wakeUp();
  }

  /**
   * Sends what the batch holds, then `last` (the owner's "that was all"); resolves with `answer`'s
   * result.
   */
  async end<T>(last: unknown, answer: Promise<T>): Promise<T> {
    this.throwIfFailed();
    this.send();
    const failed = new Promise<never>((_resolve, reject) => this.failed.add(reject));
    failed.catch(() => undefined);
    this.worker.postMessage(last);
    try {
      return await Promise.race([answer, failed]);
    } finally {
      await this.close();
    }
  }

  /** Stops the thread (a finished or failed stream); idempotent. Later pushes fail. */
  async close(): Promise<void> {
    this.failure ??= new Error(`the ${this.name} is closed`);
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }

  /** The thread's own failure (it said so): later pushes and a waiting end() fail with it. */
  fail(err: Error): void {
    this.failure ??= err;
    this.wakeUp();
    for (const reject of this.failed) reject(this.failure);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Transfers what the batch holds (the batch's buffer goes with it) and starts a new one. */
  private send(): void {
    if (this.batched === 0) return;
    // The last, partial batch is copied into a buffer of its length: the thread takes whole buffers.
    const full =
      this.batched === this.batch.length ? this.batch : new Uint8Array(this.batch.subarray(0, this.batched));
    this.inFlight += full.length;
    this.worker.postMessage(full.buffer, [full.buffer]);
    this.batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    this.batched = 0;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
