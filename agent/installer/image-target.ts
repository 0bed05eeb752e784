// Where the install stream's decoder writes: a block device with O_DIRECT, a file through the page cache.
// The page cache does nothing for an image streamed onto a disk: nothing reads it back, and every byte
// goes through it at the cost of a copy, page allocation and writeback. Under emulation that cost was
// the stream's largest: the Debian image (553 MB raw) streamed at 0.81–0.88 of `wget | zstd | dd`
// through the page cache (six runs) and at 0.96–1.28 with O_DIRECT (seven runs; npm run bench --
// install.stream, 2 vCPUs), the decoder's disk waits going from 0.3–0.7 s to 0.1–0.2 s per run.
// (Ironic's agent writes images with `qemu-img convert -t directsync` for the same reason.) A file keeps
// the page cache: it may be read soon after (host tools, tests), and not every filesystem takes O_DIRECT.
//
// O_DIRECT wants the buffer's address, the offset and the length aligned to the device's logical block.
// Buffers from a WebAssembly.Memory start on a page boundary (Node's own Buffers promise no alignment a
// disk needs: a pooled one starts at any multiple of 8), so `DIRECT_ALIGN`-sized pieces of one are
// aligned; the stream writes whole buffers at multiples of their size. Only its last, partial piece may
// be unaligned: that one goes through a second, buffered descriptor, and the stream's fsync at the end
// covers both.
//
// decode-thread.ts's thread cannot import this module: its source repeats openTarget and writeAt.
import { constants } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";

// Node has WebAssembly, but TypeScript declares it only in its DOM lib, which Node code does not load.
declare const WebAssembly: { Memory: new (size: { initial: number }) => { buffer: ArrayBuffer } };

/** A page: a multiple of every logical block size a disk reports (512 or 4096). */
export const DIRECT_ALIGN = 4096;

/** `count` buffers of `bytes` each (a multiple of DIRECT_ALIGN), page-aligned so O_DIRECT takes them. */
export function alignedBuffers(count: number, bytes: number): Buffer[] {
  const pages = 65_536; // WebAssembly's page
  const memory = new WebAssembly.Memory({ initial: Math.ceil((count * bytes) / pages) });
  return Array.from({ length: count }, (_, i) => Buffer.from(memory.buffer, i * bytes, bytes));
}

export class ImageTarget {
  private closed = false;

  private constructor(
    private readonly buffered: FileHandle,
    /** O_DIRECT, on a block device that takes it. */
    private readonly direct?: FileHandle,
  ) {}

  /** Opens `path` for writing (no truncation): O_DIRECT when it is a block device that takes it. */
  static async open(path: string): Promise<ImageTarget> {
    const buffered = await open(path, "r+");
    if (!(await stat(path)).isBlockDevice()) return new ImageTarget(buffered);
    // A device (or a kernel) without O_DIRECT says EINVAL: the page cache then, as for a file.
    return new ImageTarget(
      buffered,
      await open(path, constants.O_RDWR | constants.O_DIRECT).catch(() => undefined),
    );
  }

  /**
   * Writes `data` (a piece of a buffer from alignedBuffers) at `at`: with O_DIRECT when the target takes
   * it and both are aligned, else through the page cache. Says how many bytes went, and which way.
   */
  async writeAt(data: Buffer, at: number): Promise<{ written: number; direct: boolean }> {
    const aligned = data.length % DIRECT_ALIGN === 0 && at % DIRECT_ALIGN === 0;
    const handle = aligned && this.direct ? this.direct : this.buffered;
    const { bytesWritten } = await handle.write(data, 0, data.length, at);
    return { written: bytesWritten, direct: handle !== this.buffered };
  }

  /** Closes both descriptors; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.direct?.close();
    await this.buffered.close();
  }
}
