// Shared by the server's tests: a real server on port 0 over a temp SQLite file, and a sample inventory.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Inventory } from "../protocol/index.js";
import { loadServerConfig, type ServerConfigInput } from "./config.js";
import { createLogger } from "./logger.js";
import { startServer, type RunningServer } from "./server.js";

export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, "vmlinuz"), "kernel-bytes");
  writeFileSync(join(dir, "initramfs.img"), Buffer.alloc(100_000, 7));
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function startApiServer(
  dir: string,
  overrides: Partial<ServerConfigInput> = {},
): Promise<RunningServer> {
  const config = loadServerConfig(
    {
      host: "127.0.0.1",
      port: 0,
      advertiseUrl: "http://10.0.2.2:{port}",
      dataDir: dir,
      kernelPath: join(dir, "vmlinuz"),
      initramfsPath: join(dir, "initramfs.img"),
      bodyLimitBytes: 64 * 1024,
      ...overrides,
    },
    { env: {} },
  );
  return startServer(config, { logger: createLogger("silent") });
}

export const SAMPLE_UUID = "0e0c8a6a-6f5f-4c43-9d57-0000000000a1";

export function sampleInventory(overrides: Partial<Inventory> = {}): Inventory {
  return {
    bootMac: "52:54:00:aa:00:01",
    system: { manufacturer: "Acme", product: "X1", serial: "SN-123", uuid: SAMPLE_UUID },
    cpu: { model: "QEMU TCG CPU", logicalCount: 2 },
    memoryBytes: 1024 * 2 ** 20,
    nics: [{ name: "eth0", mac: "52:54:00:aa:00:01" }],
    disks: [{ name: "vda", sizeBytes: 512 * 2 ** 20 }],
    ...overrides,
  };
}

export async function jsonRequest(
  url: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** A loopback port that was free a moment ago (for a server that must be started later on a known port). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const address = probe.address();
  await new Promise<void>((done) =>
    probe.close(() => {
      done();
    }),
  );
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}
