// The install stream's decode-and-write stage on a thread of its own, for machines with a second CPU: the
// main thread receives the HTTP body and hashes it while this thread decodes and writes, instead of doing
// all three in turn (the main thread was 88–94% busy for the whole stream, decoding ~4 s of its ~12 under
// emulation). The same decoder as image-decoder.ts runs there: two large buffers alternate, one filled by
// ZSTD_decompressStream while the thread pool writes the other in one pwrite. Chunks are copied into
// 1 MiB batches, each transferred whole (one message per MiB rather than per ~64 KiB socket chunk). At most
// MAX_IN_FLIGHT_BYTES wait to be decoded: a slow disk holds back the decoder, which holds back the download.
import { BatchedThread } from "./batched-thread.js";
import { nodeModulesDir } from "./native.js";
import {
  TargetWriteError,
  WRITE_BUFFER_BYTES,
  type DecodeTimings,
  type ImageWriter,
} from "./image-decoder.js";

const MAX_IN_FLIGHT_BYTES = 16 << 20;

/** What the thread says: a batch decoded, the end (everything written), or a failure. */
type ThreadMessage =
  | { kind: "decoded"; bytes: number; position: number }
  | { kind: "finished"; position: number; timings: DecodeTimings }
  | { kind: "failed"; message: string; offset: number | null };

// The thread (batched-thread.ts runs it): image-decoder.ts's loop (see there why two buffers and one
// pwrite each), written again because the thread cannot import our modules; it says ThreadMessage.
const THREAD_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createRequire } = require("node:module");
const fs = require("node:fs/promises");
const { DCtx } = createRequire(workerData.modules + "/")("zstd-napi/binding.js");
const dctx = new DCtx();
// image-target.ts's alignedBuffers, openTarget and writeAt: O_DIRECT on a block device, from page-aligned
// buffers, the last partial piece through the page cache.
const DIRECT_ALIGN = 4096;
const memory = new WebAssembly.Memory({ initial: Math.ceil((2 * workerData.bufferBytes) / 65536) });
const buffers = [0, 1].map((i) => Buffer.from(memory.buffer, i * workerData.bufferBytes, workerData.bufferBytes));
const timings = { decodeMs: 0, writeWaitMs: 0, writes: 0, directWrites: 0 };
let current = 0, filled = 0, position = 0, frameOpen = false, writing = Promise.resolve(), failed = false;
async function openTarget(path) {
  const buffered = await fs.open(path, "r+");
  if (!(await fs.stat(path)).isBlockDevice()) return { buffered, direct: undefined };
  const { O_RDWR, O_DIRECT } = require("node:fs").constants;
  return { buffered, direct: await fs.open(path, O_RDWR | O_DIRECT).catch(() => undefined) };
}
const target = openTarget(workerData.target);
target.catch(() => undefined); // a target that does not open fails the first write, with its reason

// A refused write carries its offset; the main thread makes it a TargetWriteError (catalogued there).
function writeFailure(message, offset) {
  return Object.assign(new Error(message), { offset });
}
async function writeAt(data, at) {
  let written;
  try {
    const { buffered, direct } = await target;
    const aligned = direct !== undefined && data.length % DIRECT_ALIGN === 0 && at % DIRECT_ALIGN === 0;
    ({ bytesWritten: written } = await (aligned ? direct : buffered).write(data, 0, data.length, at));
    if (aligned) timings.directWrites += 1;
  } catch (err) {
    throw writeFailure("write at offset " + at + " failed: " + (err && err.message), at);
  }
  if (written !== data.length)
    throw writeFailure("short write at offset " + at + ": " + written + " of " + data.length + " bytes", at);
}
async function flush() {
  const started = performance.now();
  await writing;
  timings.writeWaitMs += performance.now() - started;
  const data = buffers[current].subarray(0, filled);
  const at = position;
  position += data.length;
  timings.writes += 1;
  writing = writeAt(data, at);
  writing.catch(() => undefined);
  current = 1 - current;
  filled = 0;
}
async function feed(input) {
  let source = input;
  for (;;) {
    const out = buffers[current];
    const room = out.length - filled;
    const started = performance.now();
    const [hint, produced, consumed] = dctx.decompressStream(out.subarray(filled), source);
    timings.decodeMs += performance.now() - started;
    if (produced > 0 || consumed > 0) frameOpen = hint !== 0;
    filled += produced;
    source = source.subarray(consumed);
    if (filled === out.length) await flush();
    else if (source.length === 0 && produced < room) return;
  }
}
async function finish() {
  if (filled > 0) await flush();
  await writing;
  if (frameOpen)
    throw new Error("the zstd stream ended inside a frame after " + position + " raw bytes: truncated");
  // The stream syncs the target through its own handle.
  const { buffered, direct } = await target;
  await direct?.close();
  await buffered.close();
}
let queue = Promise.resolve();
parentPort.on("message", (message) => {
  queue = queue.then(async () => {
    if (failed) return;
    try {
      if (message === null) {
        await finish();
        parentPort.postMessage({ kind: "finished", position, timings });
      } else {
        await feed(Buffer.from(message));
        parentPort.postMessage({ kind: "decoded", bytes: message.byteLength, position });
      }
    } catch (err) {
      failed = true;
      parentPort.postMessage({ kind: "failed", message: String(err && err.message), offset: err && typeof err.offset === "number" ? err.offset : null });
    }
  });
});
`;

export class DecodeThread implements ImageWriter {
  /** Raw bytes handed to the disk so far, as the thread last said. */
  position = 0;
  timings: DecodeTimings = { decodeMs: 0, writeWaitMs: 0, writes: 0, directWrites: 0 };
  private readonly thread: BatchedThread;
  private finished: (() => void) | undefined;

  constructor(private readonly target: string) {
    this.thread = new BatchedThread(THREAD_SOURCE, "decoding thread", MAX_IN_FLIGHT_BYTES, {
      modules: nodeModulesDir(),
      target,
      bufferBytes: WRITE_BUFFER_BYTES,
    });
    this.thread.worker.on("message", (message: ThreadMessage) => {
      this.heard(message);
    });
  }

  /** Hands `input` over; waits while too much is queued (the disk or the decoder behind). */
  feed(input: Buffer): Promise<void> | undefined {
    return this.thread.push(input);
  }

  /** Decodes and writes what is left; throws when the input ended inside a frame. */
  async finish(): Promise<void> {
    await this.thread.end(null, new Promise<void>((resolve) => (this.finished = resolve)));
  }

  close(): Promise<void> {
    return this.thread.close();
  }

  private heard(message: ThreadMessage): void {
    if (message.kind === "decoded") {
      this.position = message.position;
      this.thread.done(message.bytes);
    } else if (message.kind === "finished") {
      this.position = message.position;
      // The thread's decode and disk waits, and ours for a full queue.
      this.timings = { ...message.timings, writeWaitMs: this.thread.waitMs + message.timings.writeWaitMs };
      this.finished?.();
    } else {
      this.thread.fail(
        message.offset === null
          ? new Error(message.message)
          : new TargetWriteError(message.message, { target: this.target, offset: message.offset }),
      );
    }
  }
}
