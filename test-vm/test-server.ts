// A real bootwright server for VM tests: loopback, a temp SQLite file, advertised to QEMU guests at
// 10.0.2.2 (user-mode networking's address for the host's loopback).
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { loadServerConfig, type ServerConfigInput } from "../server/config.js";
import { createLogger } from "../server/logger.js";
import { startServer, type RunningServer } from "../server/server.js";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { uploadImage } from "../server/cli/image-commands.js";
import { jsonRequest, OPERATOR, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { INITRAMFS_PATH, KERNEL_PATH } from "./paths.js";
import type { Vm } from "./qemu.js";

export const GUEST_HOST_ADDRESS = "10.0.2.2";

export async function startTestServer(
  dataDir: string,
  port = 0,
  overrides: Partial<ServerConfigInput> = {},
): Promise<RunningServer> {
  const config = loadServerConfig(
    {
      host: "127.0.0.1",
      port,
      advertiseUrl: `http://${GUEST_HOST_ADDRESS}:{port}`,
      dataDir,
      kernelPath: KERNEL_PATH,
      initramfsPath: INITRAMFS_PATH,
      // No switch behind QEMU's user-mode network: no LLDP to wait for (test-vm/site-boot.test.ts has one).
      kernelArgs: "console=ttyS0,115200n8 quiet panic=-1 bootwright.lldp-wait=0",
      logLevel: "debug",
      // Test-time cadences: a loader with nothing to do asks again soon, leases that ran out and
      // maintenance deadlines are looked at every second (the defaults suit a site, not a test's wait).
      pollIntervalMs: 500,
      leaseSweepMs: 1_000,
      maintenanceTickMs: 1_000,
      adminToken: TEST_ADMIN_TOKEN,
      ...overrides,
    },
    { env: {} },
  );
  // JSON log in the test's directory: the first place to look when a VM test fails.
  const logger = createLogger("debug", createWriteStream(join(dataDir, "server.log"), { flags: "a" }));
  return startServer(config, { logger });
}

/** Polls the store until `predicate` holds for the machine, or fails with what was last seen. */
export async function waitForMachine<T>(
  server: RunningServer,
  id: string,
  predicate: (machine: Awaited<ReturnType<RunningServer["store"]["getMachine"]>>) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const machine = await server.store.getMachine(id);
    last = machine;
    const result = predicate(machine);
    if (result !== undefined && result !== false) return result;
    if (Date.now() > deadline)
      throw new Error(
        `machine ${id} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
      );
    await new Promise((done) => setTimeout(done, 250));
  }
}

/**
 * What an operator does to install an enrolled machine, and what the tests wait for: once it is
 * `inventoried`, expect `installed`; wait until it is installed (or failed: then the error carries the
 * last step-log entries, and the console's tail is printed) and its installed OS said it called home.
 */
export async function installAndWaitForCallHome(
  server: RunningServer,
  vm: Vm,
  id: string,
  timeoutMs: { enroll: number; install: number },
): Promise<void> {
  await waitForMachine(server, id, (m) => m?.category === "inventoried", timeoutMs.enroll);
  const expected = await fetch(`${server.url}/v1/machines/${id}/expected`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...OPERATOR },
    body: JSON.stringify({ category: "installed" }),
  });
  if (!expected.ok) throw new Error(`PUT expected installed for ${id}: HTTP ${expected.status}`);
  try {
    await waitForMachine(
      server,
      id,
      (m) => m?.category === "installed" || m?.category === "failed",
      timeoutMs.install,
    );
    const category = (await server.store.getMachine(id))?.category;
    if (category !== "installed") {
      const last = (await server.store.machineLog(id)).slice(-4);
      throw new Error(`${vm.name} (${id}) ended ${String(category)}: ${JSON.stringify(last)}`);
    }
    await vm.waitForConsole(new RegExp(`bootwright-os: called home machine=${id}`), 60_000);
  } catch (err) {
    // What the machine printed last is the first thing to read when this fails.
    console.log(`[${vm.name}] console tail:\n${vm.console().split("\n").slice(-40).join("\n")}`);
    throw err;
  }
}

/**
 * The tiny OS image in the server's store and a policy that installs it on every machine whose product
 * matches `productGlob`: the set-up of the tests that install it.
 */
export async function serveTinyImage(
  server: RunningServer,
  productGlob: string,
  /** More of the policy document (e.g. `enrollment: "approve"`). */
  more: Record<string, unknown> = {},
  /** More of the rule's plan (e.g. `reboot: "kexec"`). */
  plan: Record<string, unknown> = {},
): Promise<void> {
  const tiny = await buildOsImage({ kind: "tiny" });
  const policy = {
    ...more,
    rules: [
      { name: "tiny", match: [{ fact: "product", glob: productGlob }], plan: { ...plan, image: "tiny" } },
    ],
  };
  const set = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
    format: "json",
    source: JSON.stringify(policy),
  });
  if (set.status !== 200) throw new Error(`PUT /v1/policy: HTTP ${set.status} ${JSON.stringify(set.body)}`);
  await uploadImage(
    server.url,
    tiny.paths.zst,
    { name: "tiny", format: "raw.zst", purpose: "os" },
    TEST_ADMIN_TOKEN,
  );
}
