// The install stream's decode-and-write stage: zstd frames in, large sequential writes out.
// zstd-napi's DecompressStream allocates a fresh 128 KiB buffer per output piece and goes through Node's
// stream machinery per piece; under emulation that JavaScript per piece cost more than the decoding. Here
// the decoder writes straight into two large buffers that alternate: one is filled by ZSTD_decompressStream
// while the other is written by the thread pool, in one pwrite each. The caller awaits `feed`, so a slow
// disk holds back the download (back pressure end to end) with at most two buffers in memory.
import type * as Binding from "zstd-napi/binding.js";
import { BootwrightError, type FailureContext } from "../../protocol/failure.js";
import { describeError } from "./describe-error.js";
import { alignedBuffers, type ImageTarget } from "./image-target.js";
import { loadZstdBinding } from "./native.js";

/** 4 MiB: big enough for the disk to stream, a multiple of any sector size. */
export const WRITE_BUFFER_BYTES = 4 << 20;

/** The target refused a write (I/O error, device full): nothing more is worth downloading. */
export class TargetWriteError extends BootwrightError<"target_write"> {
  constructor(message: string, context: FailureContext<"target_write">, options?: ErrorOptions) {
    super("target_write", message, context, options);
  }
}

/** Where the decoder's time went, for the benchmark's per-stage breakdown. */
export interface DecodeTimings {
  decodeMs: number;
  /** Time `feed` waited for the disk (both buffers busy). */
  writeWaitMs: number;
  writes: number;
  /** Of `writes`, those that bypassed the page cache (O_DIRECT on a block device: image-target.ts). */
  directWrites: number;
}

/** The decode-and-write stage as the stream uses it: here on the main thread, or decode-thread.ts's. */
export interface ImageWriter {
  /** Raw bytes handed to the disk so far. */
  readonly position: number;
  readonly timings: DecodeTimings;
  /**
   * Takes `input` to decode; a promise (settled once it is taken) when it must wait, for the disk or the
   * decoder when too much is pending, or for its own decoding.
   */
  feed(input: Buffer): Promise<void> | undefined;
  /** Writes what is left and waits for every write; throws when the input ended inside a frame. */
  finish(): Promise<void>;
  /** Lets go of what the stage holds (its thread); idempotent, and safe after finish. */
  close(): Promise<void>;
}

export class ImageDecoder implements ImageWriter {
  /** Raw bytes handed to the disk so far (written or being written). */
  position = 0;
  readonly timings: DecodeTimings = { decodeMs: 0, writeWaitMs: 0, writes: 0, directWrites: 0 };
  private readonly dctx: Binding.DCtx;
  private readonly buffers = alignedBuffers(2, WRITE_BUFFER_BYTES);
  private current = 0;
  private filled = 0;
  private writing: Promise<void> = Promise.resolve();
  /** ZSTD_decompressStream's last hint: 0 when the last frame is complete. */
  private frameOpen = false;

  /** Writes to `target` (opened by the caller, closed by close()); `path` names it in errors. */
  constructor(
    private readonly target: ImageTarget,
    private readonly path: string,
  ) {
    this.dctx = new (loadZstdBinding().DCtx)();
  }

  /** Decodes `input`; resolves once its output is in a buffer, waiting for the disk when both are full. */
  async feed(input: Buffer): Promise<void> {
    // Nothing to decode, and nothing left inside the decoder (the last feed returned with room to spare);
    // zstd counts each call that moves nothing and fails the 16th in a row ("no forward progress").
    if (input.length === 0) return;
    let source: Buffer = input;
    for (;;) {
      const out = this.buffers[this.current] as Buffer;
      const room = out.length - this.filled;
      const started = performance.now();
      const [hint, produced, consumed] = this.dctx.decompressStream(out.subarray(this.filled), source);
      this.timings.decodeMs += performance.now() - started;
      // A call that moved nothing says nothing about the frame (after a frame's end, zstd hints at the
      // next frame's header size, though none may come).
      if (produced > 0 || consumed > 0) this.frameOpen = hint !== 0;
      this.filled += produced;
      source = source.subarray(consumed);
      if (this.filled === out.length) await this.flush();
      // Done when the input is used up and the decoder had room to spare (nothing left inside it).
      else if (source.length === 0 && produced < room) return;
    }
  }

  /** Writes what is left and waits for every write; throws when the input ended inside a frame. */
  async finish(): Promise<void> {
    if (this.filled > 0) await this.flush();
    await this.writing;
    if (this.frameOpen)
      throw new Error(`the zstd stream ended inside a frame after ${this.position} raw bytes: truncated`);
  }

  close(): Promise<void> {
    return this.target.close();
  }

  /** Waits for the previous write (its buffer becomes free), then writes the current buffer and swaps. */
  private async flush(): Promise<void> {
    const waitStarted = performance.now();
    await this.writing;
    this.timings.writeWaitMs += performance.now() - waitStarted;
    const data = (this.buffers[this.current] as Buffer).subarray(0, this.filled);
    const at = this.position;
    this.position += data.length;
    this.timings.writes += 1;
    this.writing = this.writeAt(data, at);
    // A failed write is reported by the next flush or by finish, whichever awaits it first.
    this.writing.catch(() => undefined);
    this.current = 1 - this.current;
    this.filled = 0;
  }

  private async writeAt(data: Buffer, at: number): Promise<void> {
    let bytesWritten: number;
    try {
      const { written, direct } = await this.target.writeAt(data, at);
      bytesWritten = written;
      if (direct) this.timings.directWrites += 1;
    } catch (err) {
      throw new TargetWriteError(
        `write at offset ${at} failed: ${describeError(err)}`,
        { target: this.path, offset: at },
        { cause: err },
      );
    }
    if (bytesWritten !== data.length)
      throw new TargetWriteError(`short write at offset ${at}: ${bytesWritten} of ${data.length} bytes`, {
        target: this.path,
        offset: at,
      });
  }
}
