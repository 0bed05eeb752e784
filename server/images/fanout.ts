// Serves image bytes to machines, reading the store once per batch (seed 002 claims 3-6, 21-22).
//
// The rule, in full:
// - A machine asking for an image from offset 0 joins the image's gathering batch (or opens one). The
//   batch starts reading when every machine about to write this image (a write-image command queued or
//   leased, its plan naming the image) that is not already streaming it has joined, or `batchWindowMs`
//   after its first member joined, whichever comes first. With none known it waits the whole window.
//   A machine that arrives after its batch started opens the next batch.
// - A running batch reads each chunk from the store once and hands the same buffer to every member.
// - It moves at the pace of its slowest member as long as that member's unsent bytes stay under
//   `maxLagBytes`. A member still over that after `detachAfterMs` of holding the others back (one of
//   them has sent all but less than a chunk: it waits on the batch) is detached: it keeps its connection
//   and continues on a stream of its own from its offset; the others go on at once. Members slow
//   together (a shared disk under write-back, a busy host) hold nobody back and stay in the batch: a
//   detached one would only read the image again, at the same slow pace.
// - A request with `Range: bytes=N-` (a resume after a dropped connection or a server restart) gets a
//   stream of its own from N. Every byte read from the store is counted, per image.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import type { ImageReadStats } from "../../protocol/index.js";

export interface FanoutOptions {
  chunkBytes: number;
  maxLagBytes: number;
  detachAfterMs: number;
  batchWindowMs: number;
}

export const DEFAULT_FANOUT: FanoutOptions = {
  chunkBytes: 1 << 20,
  maxLagBytes: 32 << 20,
  detachAfterMs: 2_000,
  batchWindowMs: 10_000,
};

/** One image being served: its file and size. */
export interface BlobRef {
  sha256: string;
  /**
   * Where its file is when a stream opens it (a batch opens it when its window ends): asked then, since
   * a deleted image's file moves to trash/ while its streams finish (blob-store.ts).
   */
  path: () => string;
  sizeBytes: number;
}

/** What the fan-out tells the rest of the server as bytes move: the metrics and the progress events. */
export interface FanoutObserver {
  /** Bytes read from the store (once per batch). */
  read(bytes: number): void;
  /** Bytes handed to one machine's response (undefined: a request naming none); `offset`: where it stands. */
  sent(machineId: string | undefined, bytes: number, offset: number, sizeBytes: number): void;
  batchStarted(members: number): void;
}

const NO_OBSERVER: FanoutObserver = {
  read: () => undefined,
  sent: () => undefined,
  batchStarted: () => undefined,
};

interface Member {
  machineId: string;
  res: ServerResponse;
  /** Bytes handed to res.write so far (its offset in the image). */
  sent: number;
  gone: boolean;
  done: () => void;
}

interface Batch {
  blob: BlobRef;
  members: Member[];
  started: boolean;
  /** Resolves the window wait early once every expected member joined. */
  wake: () => void;
}

function emptyStats(): ImageReadStats {
  return { storeBytesRead: 0, bytesSent: 0, batches: 0, batchedMembers: 0, soloStreams: 0, detached: 0 };
}

export class ImageFanout {
  private readonly gathering = new Map<string, Batch>();
  private readonly stats = new Map<string, ImageReadStats>();
  /** Machines streaming each image right now (batched or solo). */
  private readonly streaming = new Map<string, Set<string>>();

  constructor(
    /** Machines about to write this image: the batch waits for those not streaming yet. */
    private readonly expectedMembers: (sha256: string) => Promise<readonly string[]>,
    private readonly options: FanoutOptions = DEFAULT_FANOUT,
    private readonly log: (message: string, fields: Record<string, unknown>) => void = () => undefined,
    private readonly observer: FanoutObserver = NO_OBSERVER,
  ) {}

  readStats(sha256: string): ImageReadStats {
    return { ...(this.stats.get(sha256) ?? emptyStats()) };
  }

  private statsOf(sha256: string): ImageReadStats {
    let stats = this.stats.get(sha256);
    if (!stats) {
      stats = emptyStats();
      this.stats.set(sha256, stats);
    }
    return stats;
  }

  private markStreaming(sha256: string, machineId: string, on: boolean): void {
    let set = this.streaming.get(sha256);
    if (!set) {
      set = new Set();
      this.streaming.set(sha256, set);
    }
    if (on) set.add(machineId);
    else set.delete(machineId);
  }

  /**
   * Answers with the bytes from `start` to `end` (inclusive, already validated; the whole image unless a
   * Range asked less); resolves when the response ends. Only a whole image joins a batch.
   */
  async serve(
    blob: BlobRef,
    res: ServerResponse,
    machineId: string | undefined,
    range: { start: number; end: number } = { start: 0, end: blob.sizeBytes - 1 },
  ): Promise<void> {
    const { start, end } = range;
    if (start > 0 || end < blob.sizeBytes - 1 || machineId === undefined) {
      await this.solo(blob, res, start, end, machineId);
      return;
    }
    await this.joinBatch(blob, res, machineId);
  }

  private async solo(
    blob: BlobRef,
    res: ServerResponse,
    start: number,
    end: number,
    machineId: string | undefined,
  ): Promise<void> {
    const stats = this.statsOf(blob.sha256);
    stats.soloStreams += 1;
    const streaming = machineId ?? "(anonymous)";
    this.markStreaming(blob.sha256, streaming, true);
    this.log("image solo stream", { image: blob.sha256, machine: streaming, start });
    try {
      await this.pipeFrom(blob, res, start, machineId, end);
    } finally {
      this.markStreaming(blob.sha256, streaming, false);
    }
  }

  /** Streams the file from `start` to `end` (inclusive; default its last byte) into res, counting what is read. */
  private async pipeFrom(
    blob: BlobRef,
    res: ServerResponse,
    start: number,
    machineId: string | undefined,
    end = blob.sizeBytes - 1,
  ): Promise<void> {
    const stats = this.statsOf(blob.sha256);
    if (start >= blob.sizeBytes) {
      res.end();
      return;
    }
    const observer = this.observer;
    let offset = start;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        stats.storeBytesRead += chunk.length;
        stats.bytesSent += chunk.length;
        offset += chunk.length;
        observer.read(chunk.length);
        observer.sent(machineId, chunk.length, offset, blob.sizeBytes);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(
        createReadStream(blob.path(), { start, end, highWaterMark: this.options.chunkBytes }),
        counter,
        res,
      );
    } catch {
      // The machine hung up: it resumes with Range; nothing to do here.
    }
  }

  private async joinBatch(blob: BlobRef, res: ServerResponse, machineId: string): Promise<void> {
    let batch = this.gathering.get(blob.sha256);
    let opened = false;
    if (!batch) {
      batch = { blob, members: [], started: false, wake: () => undefined };
      this.gathering.set(blob.sha256, batch);
      opened = true;
    }
    const finished = new Promise<void>((resolve) => {
      const member: Member = { machineId, res, sent: 0, gone: false, done: resolve };
      res.once("close", () => {
        member.gone = true;
        if (!res.writableFinished) resolve();
      });
      batch.members.push(member);
    });
    this.markStreaming(blob.sha256, machineId, true);
    this.log("image batch joined", { image: blob.sha256, machine: machineId, members: batch.members.length });
    if (opened) void this.gatherThenRun(batch);
    else batch.wake();
    try {
      await finished;
    } finally {
      this.markStreaming(blob.sha256, machineId, false);
    }
  }

  /** Whether every lease holder not streaming elsewhere has joined this batch. */
  private async everyoneJoined(batch: Batch): Promise<boolean> {
    const holders = await this.expectedMembers(batch.blob.sha256);
    const joined = new Set(batch.members.map((m) => m.machineId));
    const busy = this.streaming.get(batch.blob.sha256) ?? new Set<string>();
    return holders.length > 0 && holders.every((id) => joined.has(id) || busy.has(id));
  }

  private async gatherThenRun(batch: Batch): Promise<void> {
    const deadline = Date.now() + this.options.batchWindowMs;
    while (Date.now() < deadline && !(await this.everyoneJoined(batch))) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        batch.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    batch.started = true;
    this.gathering.delete(batch.blob.sha256);
    const stats = this.statsOf(batch.blob.sha256);
    stats.batches += 1;
    stats.batchedMembers += batch.members.length;
    this.observer.batchStarted(batch.members.length);
    this.log("image batch started", {
      image: batch.blob.sha256,
      members: batch.members.map((m) => m.machineId),
      waitedMs: this.options.batchWindowMs - Math.max(0, deadline - Date.now()),
    });
    try {
      await this.run(batch);
    } catch (err) {
      this.log("image batch failed", { image: batch.blob.sha256, error: String(err) });
      for (const member of batch.members) member.res.destroy(err instanceof Error ? err : undefined);
    }
  }

  private async run(batch: Batch): Promise<void> {
    const { blob } = batch;
    const stats = this.statsOf(blob.sha256);
    let attached = batch.members.filter((m) => !m.gone);
    // Everyone hung up while it gathered: nothing to read (their holds on the file are released).
    if (attached.length === 0) return;
    const file = await open(blob.path(), "r");
    try {
      let offset = 0;
      while (offset < blob.sizeBytes && attached.length > 0) {
        const chunk = Buffer.allocUnsafe(Math.min(this.options.chunkBytes, blob.sizeBytes - offset));
        const { bytesRead } = await file.read(chunk, 0, chunk.length, offset);
        if (bytesRead === 0)
          throw new Error(`image ${blob.sha256} ended at ${offset} of ${blob.sizeBytes} bytes`);
        const bytes = bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead);
        stats.storeBytesRead += bytesRead;
        this.observer.read(bytesRead);
        offset += bytesRead;
        for (const member of attached) {
          if (member.gone) continue; // hung up since the last check: it resumes with Range
          member.res.write(bytes);
          member.sent += bytesRead;
          stats.bytesSent += bytesRead;
          this.observer.sent(member.machineId, bytesRead, member.sent, blob.sizeBytes);
        }
        attached = await this.waitForLaggards(batch, attached);
      }
    } finally {
      await file.close();
    }
    for (const member of attached) {
      member.res.end(() => {
        member.done();
      });
    }
  }

  /**
   * Waits while any member has more than maxLagBytes unsent; members still over it after detachAfterMs
   * of holding another member back are detached onto streams of their own. Returns those still attached.
   */
  private async waitForLaggards(batch: Batch, attached: Member[]): Promise<Member[]> {
    const live = attached.filter((m) => !m.gone);
    const lagging = (): Member[] =>
      live.filter((m) => !m.gone && m.res.writableLength > this.options.maxLagBytes);
    // A member with less than a chunk left to send waits on the batch: the laggards hold it back.
    const heldBack = (): boolean =>
      live.some((m) => !m.gone && m.res.writableLength < this.options.chunkBytes);
    let deadline = Date.now() + this.options.detachAfterMs;
    while (lagging().length > 0) {
      // The clock runs only while someone waits: otherwise waiting costs no member anything.
      if (!heldBack()) deadline = Date.now() + this.options.detachAfterMs;
      else if (Date.now() >= deadline) break;
      await delay(10);
    }
    const late = lagging();
    for (const member of late) this.detach(batch, member);
    return live.filter((m) => !m.gone && !late.includes(m));
  }

  private detach(batch: Batch, member: Member): void {
    const stats = this.statsOf(batch.blob.sha256);
    stats.detached += 1;
    stats.soloStreams += 1;
    this.log("image batch member detached", {
      image: batch.blob.sha256,
      machine: member.machineId,
      offset: member.sent,
      unsentBytes: member.res.writableLength,
    });
    // Its buffered bytes go out first (a response keeps write order), then its own read from its offset.
    void this.pipeFrom(batch.blob, member.res, member.sent, member.machineId).then(() => {
      member.done();
    });
  }
}
