// WAL checkpoints off the event loop. A checkpoint copies the WAL into the database file and, at
// synchronous=NORMAL, fsyncs both: done by the connection that commits (SQLite's default, every 1,000
// WAL pages) it stalls whichever request crosses the mark for milliseconds (measured: half of all COMMIT
// time in the queue bench). A worker thread with a connection of its own checkpoints instead, PASSIVE
// (never blocking the writer), every CHECKPOINT_INTERVAL_MS; the main connection keeps a far-off
// automatic checkpoint as a backstop should the worker fall behind or fail.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

const CHECKPOINT_INTERVAL_MS = 100;
/** The main connection's own checkpoint mark while the worker runs (pages; ~40 MiB of WAL). */
const BACKSTOP_PAGES = 10_000;
/** SQLite's default mark, restored when the worker is gone. */
const DEFAULT_PAGES = 1_000;

// Plain JavaScript run with `eval`: a worker does not inherit the TypeScript loader of its parent (tsx
// here, vite-node in the tests), and these few lines need nothing of ours.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
const timer = setInterval(() => db.pragma("wal_checkpoint(PASSIVE)"), workerData.intervalMs);
parentPort.once("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  /** Starts checkpointing the database file `path`, of which `db` is the writing connection. */
  constructor(
    private readonly db: Database.Database,
    path: string,
  ) {
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module: createRequire(import.meta.url).resolve("better-sqlite3"),
        path,
        intervalMs: CHECKPOINT_INTERVAL_MS,
      },
    });
    // Not a reason to keep the process alive: the store's close() stops it.
    this.worker.unref();
    // A worker that failed (its connection could not open, a checkpoint threw) hands checkpoints back
    // to the main connection at SQLite's default mark: slower commits, nothing lost.
    this.worker.on("error", () => {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${DEFAULT_PAGES}`);
    });
    this.exited = new Promise((done) =>
      this.worker.once("exit", () => {
        done();
      }),
    );
  }

  /** Closes the worker's connection and waits for the thread to end. */
  async stop(): Promise<void> {
    // Referenced again, so the process waits for the thread rather than exiting with the close pending.
    this.worker.ref();
    this.worker.postMessage("stop");
    await this.exited;
  }
}
