// The image store's bytes: one file per image, named by the sha256 of its contents. An upload streams
// to a temp file while it is hashed and test-decompressed; only a complete, verified file is renamed
// into place (after fsync), so a reader never sees a partial image and a failure leaves nothing behind.
// A deleted image's file waits in trash/ while streams of this process still read it (they open it by
// path, a batch only when its gathering window ends) and goes when the last one releases it.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { open, readdir, rename, rm, stat, utimes } from "node:fs/promises";
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

/** A stream's hold on a blob's file: the file stays (in place or in trash/) until every hold is released. */
export interface BlobLease {
  /** Idempotent; resolves once a deleted image's file is removed, when this was its last reader. */
  release(): Promise<void>;
}

/** A file the garbage collection removed. */
export interface CollectedBlob {
  sha256: string;
  bytes: number;
}

export class BlobStore {
  private readonly blobDir: string;
  private readonly tempDir: string;
  private readonly trashDir: string;
  /** Streams reading each blob now (served through acquire/release). */
  private readonly readers = new Map<string, number>();
  /** Deleted images whose file waits in trash/ for its readers. */
  private readonly trashed = new Set<string>();

  constructor(root: string) {
    this.blobDir = join(root, "sha256");
    this.tempDir = join(root, "tmp");
    this.trashDir = join(root, "trash");
    mkdirSync(this.blobDir, { recursive: true });
    // Temp files left by a crash mid-upload are never valid images, and trash/ held deleted images only
    // for streams of a process that is gone: drop both at start.
    for (const dir of [this.tempDir, this.trashDir]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
  }

  path(sha256: string): string {
    return join(this.blobDir, sha256);
  }

  private trashPath(sha256: string): string {
    return join(this.trashDir, sha256);
  }

  /**
   * Where to open the blob now: its place, or trash/ when its image was deleted while streams read it.
   * The same bytes stored again meanwhile are in place again (content-addressed: either file will do).
   */
  locate(sha256: string): string {
    const live = this.path(sha256);
    return this.trashed.has(sha256) && !existsSync(live) ? this.trashPath(sha256) : live;
  }

  /** Counts a stream reading the blob, from before it opens the file until it is done with it. */
  acquire(sha256: string): BlobLease {
    this.readers.set(sha256, (this.readers.get(sha256) ?? 0) + 1);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const left = (this.readers.get(sha256) ?? 1) - 1;
        if (left > 0) {
          this.readers.set(sha256, left);
          return;
        }
        this.readers.delete(sha256);
        if (this.trashed.has(sha256)) await this.emptyTrash(sha256);
      },
    };
  }

  /** Whether a stream reads the blob now. */
  isRead(sha256: string): boolean {
    return (this.readers.get(sha256) ?? 0) > 0;
  }

  /**
   * Takes a deleted image's file out of the store (its catalogue row is already gone): removed at once
   * when nothing reads it, else moved to trash/ (new streams cannot find the image any more; the open
   * ones, and a batch still gathering, read it there) and removed when the last reader releases it.
   * Returns whether the file is gone now.
   */
  async discard(sha256: string): Promise<boolean> {
    const live = this.path(sha256);
    if (!this.isRead(sha256)) {
      await rm(live, { force: true });
      await this.syncDir(this.blobDir);
      return true;
    }
    // Marked before the rename: a reader opening in between finds it in one place or the other.
    this.trashed.add(sha256);
    await rename(live, this.trashPath(sha256)).catch((err: unknown) => {
      if (!(err instanceof Error && "code" in err && err.code === "ENOENT")) throw err;
    });
    await this.syncDir(this.blobDir);
    // The last reader may have let go while the file moved.
    if (!this.isRead(sha256)) {
      await this.emptyTrash(sha256);
      return true;
    }
    return false;
  }

  private async emptyTrash(sha256: string): Promise<void> {
    this.trashed.delete(sha256);
    await rm(this.trashPath(sha256), { force: true });
  }

  /**
   * Removes the files `keep` does not want (no catalogue row names them) and nothing reads, among those
   * last changed before `settledBefore` (a file stored just now may be waiting for its row: ingest and
   * adopt stamp it when it lands), and whatever trash/ holds that no stream reads.
   */
  async collect(keep: (sha256: string) => boolean, settledBefore: Date): Promise<CollectedBlob[]> {
    const removed: CollectedBlob[] = [];
    for (const sha256 of this.list()) {
      if (keep(sha256) || this.isRead(sha256)) continue;
      const info = await stat(this.path(sha256)).catch(() => undefined);
      if (!info || info.mtimeMs >= settledBefore.getTime()) continue;
      await rm(this.path(sha256), { force: true });
      removed.push({ sha256, bytes: info.size });
    }
    for (const name of await readdir(this.trashDir)) {
      if (this.isRead(name)) continue;
      const info = await stat(this.trashPath(name)).catch(() => undefined);
      await this.emptyTrash(name);
      if (info) removed.push({ sha256: name, bytes: info.size });
    }
    if (removed.length > 0) await this.syncDir(this.blobDir);
    return removed;
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
      // Stamped as it lands: the garbage collection leaves a fresh file alone until its row is written
      // (an adopted upload's last chunk may be hours old).
      const now = new Date();
      await utimes(staged, now, now);
      await rename(staged, this.path(sha256));
      await this.syncDir(this.blobDir);
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

  /** fsync the directory so a rename or removal itself survives a power loss. */
  private async syncDir(path: string): Promise<void> {
    const dir = await open(path, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
