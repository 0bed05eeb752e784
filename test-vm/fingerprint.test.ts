// The configuration fingerprint on real VMs: two machines of one shape (different serials, MACs,
// UUIDs) share it; more memory or a bigger disk changes it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { chooseAccelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { directLoaderBoot, Vm } from "./qemu.js";
import { startTestServer, waitForMachine } from "./test-server.js";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

it("same shape → same fingerprint; memory or disk size → a different one", async () => {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-fingerprint-"));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  });
  const server = await startTestServer(dir);
  cleanups.push(() => server.close());

  const shapes = [
    { name: "a", mac: "52:54:00:f0:00:01", serial: "FP-A", memoryMiB: 1024, diskMiB: 256 },
    { name: "b", mac: "52:54:00:f0:00:02", serial: "FP-B", memoryMiB: 1024, diskMiB: 256 },
    { name: "more-memory", mac: "52:54:00:f0:00:03", serial: "FP-C", memoryMiB: 1536, diskMiB: 256 },
    { name: "bigger-disk", mac: "52:54:00:f0:00:04", serial: "FP-D", memoryMiB: 1024, diskMiB: 512 },
  ];
  const fingerprints = new Map<string, string>();
  for (const [i, shape] of shapes.entries()) {
    const uuid = `0e0c8a6a-6f5f-4c43-9d57-00000000f00${i + 1}`;
    const vm = Vm.start({
      name: `fingerprint-${shape.name}`,
      workDir: join(dir, shape.name),
      accel,
      firmware: "bios",
      boot: directLoaderBoot(shape.mac, server.advertiseUrl),
      mac: shape.mac,
      uuid,
      memoryMiB: shape.memoryMiB,
      smbios: [`type=1,manufacturer=Acme,product=FP-1,serial=${shape.serial}`],
      disksMiB: [shape.diskMiB],
    });
    try {
      const machine = await waitForMachine(server, uuid, (m) => m?.fingerprint ?? undefined, 180_000).catch(
        (err: unknown) => {
          throw new Error(`${String(err)}\n${vm.describe()}`);
        },
      );
      fingerprints.set(shape.name, machine);
    } finally {
      await vm.stop();
    }
  }
  expect(fingerprints.get("a")).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(fingerprints.get("b")).toBe(fingerprints.get("a"));
  expect(fingerprints.get("more-memory")).not.toBe(fingerprints.get("a"));
  expect(fingerprints.get("bigger-disk")).not.toBe(fingerprints.get("a"));
  expect(new Set(fingerprints.values()).size).toBe(3);
});
