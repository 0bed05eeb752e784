// A timed maintenance program (seed 001) survives a restart: the real server process is killed with
// SIGKILL after the schedule is added and started again on the same SQLite file; the schedule fires
// once at its time. A time that passed while the server was down fires once when it is back.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { MaintenanceRunList, MaintenanceScheduleList } from "../../protocol/index.js";
import {
  OPERATOR,
  freePort,
  installUntilReboot,
  jsonRequest,
  killProcess,
  makeTempDir,
  SAMPLE_UUID as ID,
  sampleInventory,
  spawnServerProcess,
} from "../test-support.js";

let work: { dir: string; remove: () => void };
let port: number;
let child: ChildProcess | undefined;

const base = (): string => `http://127.0.0.1:${port}`;
const api = (path: string, method = "GET", body?: unknown) => jsonRequest(`${base()}${path}`, method, body);

async function startProcess(): Promise<void> {
  child = await spawnServerProcess(work.dir, port, {
    BOOTWRIGHT_MAINTENANCE_TICK_MS: "200",
    BOOTWRIGHT_KERNEL: join(work.dir, "vmlinuz"),
    BOOTWRIGHT_INITRAMFS: join(work.dir, "initramfs.img"),
  });
}

async function runs() {
  return MaintenanceRunList.parse((await api(`/v1/machines/${ID}/maintenance`)).body).runs;
}

async function waitForRuns(count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await runs()).length < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} maintenance runs after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An installed machine (its OS called home) and a maintenance image, over the API. */
async function installedMachine(): Promise<void> {
  await api("/v1/inventory", "POST", sampleInventory());
  const policy = { rules: [{ name: "all", match: [], plan: { image: "tiny" } }] };
  await api("/v1/policy", "PUT", { format: "json", source: JSON.stringify(policy) });
  for (const [name, purpose, format] of [
    ["tiny", "os", "raw.zst"],
    ["diag", "diagnostic", "tar.zst"],
  ] as const)
    await fetch(`${base()}/v1/images?name=${name}&format=${format}&purpose=${purpose}`, {
      headers: OPERATOR,
      method: "PUT",
      body: compress(Buffer.from(`${name} bytes `.repeat(500))),
    });
  await installUntilReboot(base(), ID);
  const planHash = (await api(`/v1/machines/${ID}`)).body as { plan: { planHash: string } };
  await api(`/v1/machines/${ID}/callhome`, "POST", {
    image: "sha256:x",
    planHash: planHash.plan.planHash,
    os: "t",
  });
}

beforeEach(async () => {
  work = makeTempDir("bootwright-schedule-restart-");
  port = await freePort();
  await startProcess();
  await installedMachine();
});

afterEach(async () => {
  await killProcess(child);
  work.remove();
});

it("fires once at its time after a SIGKILL and restart in between", async () => {
  const at = new Date(Date.now() + 4_000).toISOString();
  expect(
    (await api("/v1/maintenance/schedules", "POST", { target: { machine: ID }, at, image: "diag" })).status,
  ).toBe(201);
  await killProcess(child);
  await startProcess();
  expect(await runs()).toHaveLength(0);
  await waitForRuns(1, 15_000);
  const firedAt = Date.now();
  expect(firedAt).toBeGreaterThanOrEqual(Date.parse(at));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const [run, ...more] = await runs();
  expect(more).toHaveLength(0);
  expect(run?.trigger).toMatchObject({ kind: "schedule", when: at });
  const { schedules } = MaintenanceScheduleList.parse((await api("/v1/maintenance/schedules")).body);
  expect(schedules).toMatchObject([
    { fired: 1, nextFireAt: null, lastFiredAt: expect.any(String) as unknown },
  ]);
});

it("a time missed while the server was down fires once when it is back; a cron schedule moves on", async () => {
  const at = new Date(Date.now() + 300).toISOString();
  await api("/v1/maintenance/schedules", "POST", { target: { machine: ID }, at, image: "diag" });
  const cron = await api("/v1/maintenance/schedules", "POST", {
    target: { where: { path: "inventory.system.product", equals: "X1" } },
    cron: "0 3 * * 0",
    image: "diag",
    mode: "active",
  });
  expect(cron.status).toBe(201);
  await killProcess(child);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await startProcess();
  await waitForRuns(1, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(await runs()).toHaveLength(1);
  const { schedules } = MaintenanceScheduleList.parse((await api("/v1/maintenance/schedules")).body);
  const weekly = schedules.find((s) => s.cron !== null);
  // Next Sunday 03:00 UTC, after now.
  const next = new Date(weekly?.nextFireAt ?? 0);
  expect(next.getUTCDay()).toBe(0);
  expect(next.getUTCHours()).toBe(3);
  expect(next.getTime()).toBeGreaterThan(Date.now());
  expect(weekly?.fired).toBe(0);
});
