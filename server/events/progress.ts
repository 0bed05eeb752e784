// Progress events, throttled: bytes moving for a machine (the image streamed to it, its capture upload,
// its erase) are reported as often as they move, and published at most once per `intervalMs` per
// machine and kind, the latest figure winning. The last figure always goes out (trailing edge), so a
// transfer's end is never swallowed by the throttle.
import type { ProgressEvent } from "../../protocol/index.js";
import type { Publish } from "./observed-store.js";

export type ProgressKind = ProgressEvent["kind"];

interface Transfer {
  /** The last figure published (for the rate), and when. */
  lastBytes: number | null;
  lastAt: number;
  /** A figure waiting for the interval to pass, and its timer. */
  pending: { bytesDone: number; bytesTotal: number | null } | null;
  timer: NodeJS.Timeout | null;
}

export const PROGRESS_INTERVAL_MS = 500;

export class ProgressReporter {
  private readonly transfers = new Map<string, Transfer>();

  constructor(
    private readonly publish: Publish,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  /** Bytes done so far of a machine's transfer (and its size when known). */
  report(machineId: string, kind: ProgressKind, bytesDone: number, bytesTotal: number | null): void {
    const key = `${kind}\u0000${machineId}`;
    let transfer = this.transfers.get(key);
    if (!transfer) {
      transfer = { lastBytes: null, lastAt: 0, pending: null, timer: null };
      this.transfers.set(key, transfer);
    }
    transfer.pending = { bytesDone, bytesTotal };
    const wait = transfer.lastAt + this.intervalMs - Date.now();
    const finished = bytesTotal !== null && bytesDone >= bytesTotal;
    if (wait <= 0 || finished) this.flush(key, machineId, kind);
    else
      transfer.timer ??= setTimeout(() => {
        this.flush(key, machineId, kind);
      }, wait).unref();
  }

  private flush(key: string, machineId: string, kind: ProgressKind): void {
    const transfer = this.transfers.get(key);
    if (!transfer?.pending) return;
    if (transfer.timer) clearTimeout(transfer.timer);
    const now = Date.now();
    const { bytesDone, bytesTotal } = transfer.pending;
    const seconds = (now - transfer.lastAt) / 1000;
    const bytesPerSecond =
      transfer.lastBytes === null || seconds <= 0
        ? null
        : Math.max(0, Math.round((bytesDone - transfer.lastBytes) / seconds));
    this.publish({
      type: "progress",
      data: { machineId, kind, bytesDone, bytesTotal, bytesPerSecond, at: new Date(now).toISOString() },
    });
    // A finished transfer is forgotten: the machine's next one starts its rate afresh.
    if (bytesTotal !== null && bytesDone >= bytesTotal) this.transfers.delete(key);
    else Object.assign(transfer, { lastBytes: bytesDone, lastAt: now, pending: null, timer: null });
  }

  /** Stops the waiting timers (the server is closing). */
  close(): void {
    for (const transfer of this.transfers.values()) if (transfer.timer) clearTimeout(transfer.timer);
    this.transfers.clear();
  }
}
