// End to end (seed 000): an operator sets the expected category of an inventoried VM; the loader pulls
// the command the difference produced (check-disks: reads both ends of every disk), runs it, the
// category moves and the difference list empties.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import type { RunningServer } from "../server/server.js";
import { chooseAccelerator } from "./accelerator.js";
import { REPO_ROOT, requireBootArtefacts } from "./paths.js";
import { directLoaderBoot, Vm } from "./qemu.js";
import { startTestServer, waitForMachine } from "./test-server.js";

const UUID = "0e0c8a6a-6f5f-4c43-9d57-000000000c01";
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The operator's CLI, run as a user would. */
async function bootwright(server: RunningServer, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(join(REPO_ROOT, "bin/bootwright"), [
    ...args,
    "--server",
    server.url,
  ]);
  return stdout;
}

it("expected ready → check-disks runs in the VM → category ready, difference list empty", async () => {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-commands-"));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  });
  const server = await startTestServer(dir, 0, { pollIntervalMs: 1000 });
  cleanups.push(() => server.close());
  const mac = "52:54:00:c0:00:01";
  const vm = Vm.start({
    name: "commands",
    workDir: dir,
    accel,
    firmware: "bios",
    boot: directLoaderBoot(mac, server.advertiseUrl),
    mac,
    uuid: UUID,
    disksMiB: [64, 96],
  });
  cleanups.push(() => vm.stop());

  await waitForMachine(server, UUID, (m) => m?.category === "inventoried" || undefined, 180_000).catch(
    (err: unknown) => {
      throw new Error(`${String(err)}\n${vm.describe()}`);
    },
  );
  expect(await bootwright(server, "expect", UUID, "ready")).toContain("expected ready");
  await waitForMachine(server, UUID, (m) => m?.category === "ready" || undefined, 60_000).catch(
    (err: unknown) => {
      throw new Error(`${String(err)}\n${vm.describe()}`);
    },
  );
  expect(JSON.parse(await bootwright(server, "diff", "--json"))).toEqual({ differences: [] });

  // The step log holds what the VM really read: both ends of each disk, 1 MiB each.
  const succeeded = (await server.store.machineLog(UUID)).find((e) => e.event === "command-succeeded");
  expect(succeeded?.data.disks).toEqual([
    expect.objectContaining({ name: "vda", sizeBytes: 64 * 2 ** 20, bytesRead: 2 * 2 ** 20 }),
    expect.objectContaining({ name: "vdb", sizeBytes: 96 * 2 ** 20, bytesRead: 2 * 2 ** 20 }),
  ]);
  const events = (await server.store.machineLog(UUID)).map((e) => e.event);
  expect(events.slice(events.indexOf("expected"))).toEqual([
    "expected",
    "command-queued",
    "command-leased",
    "command-succeeded",
    "category",
  ]);
  const queue = JSON.parse(await bootwright(server, "queue", UUID, "--json")) as {
    commands: { kind: string; state: string }[];
  };
  expect(queue.commands).toEqual([expect.objectContaining({ kind: "check-disks", state: "succeeded" })]);
  expect(await bootwright(server, "log", UUID)).toMatch(/command-succeeded/);
  await vm.waitForConsole(/ok command succeeded kind=check-disks/, 10_000);
  await vm.waitForConsole(/ok result recorded category=ready/, 10_000);
});
