import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hasCode } from "../../protocol/index.js";
import { DecodeThread } from "./decode-thread.js";
import { ImageDecoder, WRITE_BUFFER_BYTES, type ImageWriter } from "./image-decoder.js";
import { ImageTarget } from "./image-target.js";
import { loadZstd } from "./native.js";

process.env.BOOTWRIGHT_NODE_MODULES = join(import.meta.dirname, "../../node_modules");
const zstd = loadZstd();
const canLoop = process.getuid?.() === 0 && spawnSync("losetup", ["--find"]).status === 0;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-decoder-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Raw bytes that are not all alike, `size` long. */
function rawImage(size: number): Buffer {
  const raw = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) raw.write(`block ${i / 4096} `, i);
  return raw;
}

// The same decoder on the main thread (one CPU) and on a thread of its own (decode-thread.ts).
const writers: [string, (target: string) => Promise<ImageWriter>][] = [
  ["on the main thread", async (target) => new ImageDecoder(await ImageTarget.open(target), target)],
  ["on its own thread", (target) => Promise.resolve(new DecodeThread(target))],
];

describe.each(writers)("decoding %s", (_where, writerFor) => {
  /** Feeds `input` to a decoder writing into `target`, in pieces of `piece` bytes; returns its timings. */
  async function decodeInto(target: string, input: Buffer, piece: number): Promise<ImageWriter> {
    const decoder = await writerFor(target);
    try {
      for (let at = 0; at < input.length; at += piece) {
        await decoder.feed(input.subarray(at, at + piece));
        // Empty pieces (a resumed HTTP parser hands some over) change nothing, however many come.
        for (let i = 0; i < 20; i++) await decoder.feed(Buffer.alloc(0));
      }
      await decoder.finish();
    } finally {
      await decoder.close();
    }
    return decoder;
  }

  /** The same, into a fresh file; returns the file. */
  async function decode(input: Buffer, piece: number): Promise<Buffer> {
    const target = join(dir, "disk.img");
    writeFileSync(target, "");
    const decoder = await decodeInto(target, input, piece);
    expect(decoder.position).toBe(readFileSync(target).length);
    expect(decoder.timings.directWrites).toBe(0); // a file keeps the page cache
    return readFileSync(target);
  }

  it("writes exactly the raw bytes of several frames, fed in odd pieces, ending on a buffer boundary", async () => {
    // Two frames (as `zstd` writes for concatenated inputs) whose total is an exact number of write buffers:
    // the last buffer fills exactly, and the stream must still be seen as complete.
    const first = rawImage(WRITE_BUFFER_BYTES + 12_288);
    const second = rawImage(WRITE_BUFFER_BYTES - 12_288);
    const compressed = Buffer.concat([zstd.compress(first), zstd.compress(second)]);
    // Buffer.equals, not toEqual: vitest's deep comparison of 8 MiB takes minutes.
    expect((await decode(compressed, 65_521)).equals(Buffer.concat([first, second]))).toBe(true);
    const odd = rawImage(3 * WRITE_BUFFER_BYTES + 777);
    expect((await decode(zstd.compress(odd), 1_000_003)).equals(odd)).toBe(true);
  });

  it("says the stream is truncated when the input ends inside a frame", async () => {
    const compressed = zstd.compress(rawImage(1 << 20));
    await expect(decode(compressed.subarray(0, compressed.length - 100), 4096)).rejects.toThrow(/truncated/);
  });

  it("reports a refused write as target_write with its offset", async () => {
    // /dev/full refuses every write (ENOSPC): a disk that is full from its first byte.
    const target = "/dev/full";
    const decoder = await writerFor(target);
    try {
      const input = zstd.compress(rawImage(WRITE_BUFFER_BYTES * 2));
      // The failure surfaces where the write is awaited: the feed that needs its buffer, or finish.
      const failure = await (async () => {
        await decoder.feed(input);
        await decoder.finish();
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(hasCode(failure, "target_write") && failure.context).toEqual({ target, offset: 0 });
      expect(String(failure)).toMatch(/ENOSPC|no space/i);
    } finally {
      await decoder.close();
    }
  });

  // O_DIRECT needs a block device: a loop device over a file is one (root only, as in the suite and CI).
  it.runIf(canLoop)(
    "writes a block device with O_DIRECT, its last partial piece through the page cache",
    async () => {
      const backing = join(dir, "loop.img");
      writeFileSync(backing, "");
      truncateSync(backing, 4 * WRITE_BUFFER_BYTES);
      const loop = execFileSync("losetup", ["--find", "--show", backing]).toString().trim();
      try {
        // Not a multiple of a sector: the last piece cannot go direct.
        const raw = rawImage(2 * WRITE_BUFFER_BYTES + 12_345);
        const decoder = await decodeInto(loop, zstd.compress(raw), 65_536);
        expect(decoder.timings).toMatchObject({ writes: 3, directWrites: 2 });
        // Read through the device (its page cache forgot what O_DIRECT wrote), then through the file.
        const device = Buffer.alloc(raw.length);
        const handle = await open(loop, "r");
        await handle.read(device, 0, device.length, 0);
        await handle.close();
        expect(device.equals(raw)).toBe(true);
        execFileSync("blockdev", ["--flushbufs", loop]);
        expect(readFileSync(backing).subarray(0, raw.length).equals(raw)).toBe(true);
      } finally {
        execFileSync("losetup", ["-d", loop]);
      }
    },
  );
});
