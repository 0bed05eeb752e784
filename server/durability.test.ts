// kill -9 the real server process between a lease and its result, restart it on the same SQLite file:
// nothing is lost, the command is leased again once its lease expires, and its effect happens once.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { LeasedCommand, NextAction } from "../protocol/index.js";
import {
  freePort,
  jsonRequest,
  killProcess,
  makeTempDir,
  spawnServerProcess,
  SAMPLE_UUID as ID,
  sampleInventory,
} from "./test-support.js";

let dir: string;
let removeDir: () => void;
let port: number;
let child: ChildProcess | undefined;

/** Starts `bootwright server` as its own process and waits until it answers. */
async function startProcess(leaseMs: number): Promise<void> {
  child = await spawnServerProcess(dir, port, {
    BOOTWRIGHT_LEASE_MS: String(leaseMs),
    BOOTWRIGHT_KERNEL: join(dir, "vmlinuz"),
    BOOTWRIGHT_INITRAMFS: join(dir, "initramfs.img"),
  });
}

function kill9(): Promise<void> {
  return killProcess(child);
}

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`http://127.0.0.1:${port}${path}`, method, body);

async function lease(): Promise<LeasedCommand> {
  const next = (await api(`/v1/machines/${ID}/next`)).body as NextAction;
  if (next.action !== "run") throw new Error(`expected a command, got ${JSON.stringify(next)}`);
  return next.command;
}

const ok = (leaseId: string) => ({
  leaseId,
  outcome: "succeeded",
  output: { kind: "check-disks", disks: [{ name: "vda", sizeBytes: 2 ** 29, bytesRead: 2 ** 21, ms: 5 }] },
});

beforeEach(async () => {
  ({ dir, remove: removeDir } = makeTempDir("bootwright-durable-"));
  port = await freePort();
});

afterEach(async () => {
  await kill9();
  removeDir();
});

it("a lease outlives a kill -9: after expiry the command is leased again and applied once", async () => {
  await startProcess(1500);
  await api("/v1/inventory", "POST", sampleInventory());
  await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
  const first = await lease();

  await kill9();
  await startProcess(1500);
  // Nothing lost: the machine, its expectation and the leased command are all there.
  expect((await api(`/v1/machines/${ID}`)).body).toMatchObject({
    category: "inventoried",
    expected: "ready",
  });
  expect((await api(`/v1/machines/${ID}/queue`)).body).toMatchObject({
    commands: [{ id: first.id, state: "leased" }],
  });

  await new Promise((done) => setTimeout(done, 1700));
  const second = await lease();
  expect(second.id).toBe(first.id);
  expect(
    (await api(`/v1/machines/${ID}/commands/${first.id}/result`, "POST", ok(first.leaseId))).status,
  ).toBe(409);
  expect(
    (await api(`/v1/machines/${ID}/commands/${second.id}/result`, "POST", ok(second.leaseId))).body,
  ).toEqual({ duplicate: false, category: "ready" });
  expect(
    (await api(`/v1/machines/${ID}/commands/${second.id}/result`, "POST", ok(second.leaseId))).body,
  ).toEqual({ duplicate: true, category: "ready" });

  const log = (await api(`/v1/machines/${ID}/log`)).body as { entries: { event: string }[] };
  expect(log.entries.filter((e) => e.event === "command-succeeded")).toHaveLength(1);
  expect(log.entries.filter((e) => e.event === "lease-expired")).toHaveLength(1);
});

it("a result posted to the restarted server under a live lease is applied", async () => {
  await startProcess(60_000);
  await api("/v1/inventory", "POST", sampleInventory());
  await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
  const command = await lease();
  await kill9();
  await startProcess(60_000);
  expect(
    (await api(`/v1/machines/${ID}/commands/${command.id}/result`, "POST", ok(command.leaseId))).body,
  ).toEqual({
    duplicate: false,
    category: "ready",
  });
  expect((await api("/v1/differences")).body).toEqual({
    differences: [],
    enrollment: [],
    drift: [],
    drivers: [],
  });
});
