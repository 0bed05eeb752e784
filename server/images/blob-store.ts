// The image store's bytes: one file per image, named by the sha256 of its contents. An upload streams
// to a temp file while it is hashed and test-decompressed; only a complete, verified file is renamed
// into place (after fsync), so a reader never sees a partial image and a failure leaves nothing behind.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DecompressStream } from "zstd-napi";
import { ApiError, isApiError } from "../errors.js";

export interface StoredBlob {
  sha256: string;
  sizeBytes: number;
  rawBytes: number;
  rawSha256: string;
}

function isNoSpace(err: unknown): boolean {
  return err instanceof Error && "code" in err && (err.code === "ENOSPC" || err.code === "EDQUOT");
}

export class BlobStore {
  private readonly blobDir: string;
  private readonly tempDir: string;

  constructor(root: string) {
    this.blobDir = join(root, "sha256");
    this.tempDir = join(root, "tmp");
    mkdirSync(this.blobDir, { recursive: true });
    // Temp files left by a crash mid-upload are never valid images: drop them at start.
    rmSync(this.tempDir, { recursive: true, force: true });
    mkdirSync(this.tempDir, { recursive: true });
  }

  path(sha256: string): string {
    return join(this.blobDir, sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.path(sha256));
  }

  /** The sha256s of every stored file (a catalogue check can compare). */
  list(): string[] {
    return readdirSync(this.blobDir).filter((name) => /^[0-9a-f]{64}$/.test(name));
  }

  /**
   * Streams `source` into the store: hashes it, decompresses it as zstd on the way (an image that is not
   * one complete zstd stream is refused), checks the sha256 the uploader declared, then makes it visible.
   */
  ingest(source: Readable, declaredSha256?: string): Promise<StoredBlob> {
    const temp = join(
      this.tempDir,
      `upload-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`,
    );
    return this.verifyAndStore(source, declaredSha256, { copyTo: temp });
  }

  /**
   * A complete file on the store's filesystem (a finished resumable upload): verified the same way by
   * reading it, then renamed into place, not copied. A file that fails the checks is left where it is.
   */
  adopt(path: string, declaredSha256: string): Promise<StoredBlob> {
    return this.verifyAndStore(createReadStream(path), declaredSha256, { move: path });
  }

  private async verifyAndStore(
    source: Readable,
    declaredSha256: string | undefined,
    into: { copyTo: string } | { move: string },
  ): Promise<StoredBlob> {
    // The file that becomes the blob: the copy being written, or the one handed over.
    const staged = "copyTo" in into ? into.copyTo : into.move;
    const temp = "copyTo" in into ? into.copyTo : undefined;
    const stored = createHash("sha256");
    const raw = createHash("sha256");
    let sizeBytes = 0;
    let rawBytes = 0;
    const decompressor = new DecompressStream();
    let notZstd: Error | undefined;
    decompressor.once("error", (err) => {
      notZstd = err;
    });
    const file = temp === undefined ? undefined : await open(temp, "wx");
    try {
      try {
        await pipeline(
          source,
          async function* (chunks: AsyncIterable<Buffer>) {
            for await (const chunk of chunks) {
              stored.update(chunk);
              sizeBytes += chunk.length;
              await file?.write(chunk);
              yield chunk;
            }
          },
          decompressor,
          async (output: AsyncIterable<Buffer>) => {
            for await (const chunk of output) {
              raw.update(chunk);
              rawBytes += chunk.length;
            }
          },
        );
        await file?.sync();
      } finally {
        await file?.close();
      }
      const sha256 = stored.digest("hex");
      if (declaredSha256 !== undefined && declaredSha256 !== sha256) {
        throw new ApiError(
          "image_invalid",
          `upload has sha256 ${sha256} (${sizeBytes} bytes) but ${declaredSha256} was declared: refused`,
          { actual: sha256, declared: declaredSha256, sizeBytes },
        );
      }
      if (sizeBytes === 0) throw new ApiError("image_invalid", "upload is empty: refused");
      await rename(staged, this.path(sha256));
      await this.syncDir();
      return { sha256, sizeBytes, rawBytes, rawSha256: raw.digest("hex") };
    } catch (err) {
      if (temp !== undefined) await rm(temp, { force: true });
      if (isApiError(err)) throw err;
      if (isNoSpace(err)) {
        throw new ApiError(
          "insufficient_storage",
          `the image store at ${this.blobDir} is full after ${sizeBytes} bytes of the upload; nothing was kept`,
          { bytesReceived: sizeBytes },
          { cause: err },
        );
      }
      if (notZstd !== undefined) {
        throw new ApiError(
          "image_invalid",
          `upload is not a complete zstd stream (after ${sizeBytes} bytes): ${notZstd.message}`,
          { bytesReceived: sizeBytes },
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** fsync the directory so the rename itself survives a power loss. */
  private async syncDir(): Promise<void> {
    const dir = await open(this.blobDir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
