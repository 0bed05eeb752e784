// A real bootwright server for VM tests: loopback, a temp SQLite file, advertised to QEMU guests at
// 10.0.2.2 (user-mode networking's address for the host's loopback).
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { loadServerConfig, type ServerConfigInput } from "../server/config.js";
import { createLogger } from "../server/logger.js";
import { startServer, type RunningServer } from "../server/server.js";
import { INITRAMFS_PATH, KERNEL_PATH } from "./paths.js";

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
      kernelArgs: "console=ttyS0,115200n8 quiet panic=-1",
      logLevel: "debug",
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
