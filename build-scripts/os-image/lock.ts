// One OS image build at a time per machine: a test's on-demand build and a CLI build would otherwise
// share work directories and the debootstrap cache. A lock file holds the builder's PID; a lock whose
// process is gone is stale and taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

const POLL_MS = 1000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryTake(path: string): boolean {
  try {
    const fd = openSync(path, "wx");
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return false;
  }
}

/** Runs `body` holding the lock at `path`, waiting up to `timeoutMs` for another builder to finish. */
export async function withLock<T>(
  path: string,
  timeoutMs: number,
  log: (line: string) => void,
  body: () => Promise<T>,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let told = false;
  while (!tryTake(path)) {
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(path, "utf8"));
    } catch {
      continue; // released between our attempt and the read: try again at once
    }
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (performance.now() > deadline)
      throw new Error(`another OS image build (pid ${holder}) still holds ${path} after ${timeoutMs} ms`);
    if (!told) log(`[os-image] waiting for the OS image build in process ${holder} (${path})`);
    told = true;
    await delay(POLL_MS);
  }
  try {
    return await body();
  } finally {
    rmSync(path, { force: true });
  }
}
