// The OS image build lock: a live holder makes the next builder wait; a dead holder's lock is taken.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { withLock } from "./lock.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function lockPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-lock-"));
  dirs.push(dir);
  return join(dir, "build.lock");
}

it("runs the body holding the lock and releases it, even when the body throws", async () => {
  const path = lockPath();
  expect(
    await withLock(
      path,
      1000,
      () => undefined,
      () => Promise.resolve(existsSync(path)),
    ),
  ).toBe(true);
  expect(existsSync(path)).toBe(false);
  await expect(
    withLock(
      path,
      1000,
      () => undefined,
      () => Promise.reject(new Error("boom")),
    ),
  ).rejects.toThrow("boom");
  expect(existsSync(path)).toBe(false);
});

it("takes over a lock whose process is gone", async () => {
  const path = lockPath();
  // A PID that existed and exited: the child's, after spawnSync returns.
  const dead = spawnSync("true").pid;
  writeFileSync(path, String(dead));
  expect(
    await withLock(
      path,
      1000,
      () => undefined,
      () => Promise.resolve("ran"),
    ),
  ).toBe("ran");
});

it("waits for a live holder, then runs; or gives up at the deadline naming the holder", async () => {
  const path = lockPath();
  const lines: string[] = [];
  const order: string[] = [];
  const first = withLock(
    path,
    5000,
    () => undefined,
    async () => {
      order.push("first");
      await new Promise((done) => setTimeout(done, 300));
    },
  );
  // Our own PID holds it: alive. The second waits, logs once, and gets it after release.
  const second = withLock(
    path,
    5000,
    (line) => lines.push(line),
    () => {
      order.push("second");
      return Promise.resolve();
    },
  );
  await Promise.all([first, second]);
  expect(order).toEqual(["first", "second"]);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`waiting for the OS image build in process ${process.pid}`));

  writeFileSync(path, String(process.pid));
  await expect(
    withLock(
      path,
      0,
      () => undefined,
      () => Promise.resolve(),
    ),
  ).rejects.toThrow(new RegExp(`pid ${process.pid}`));
});
