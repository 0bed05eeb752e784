// drivers.on_demand_ms: a VM whose only disk sits behind an LSI MegaRAID (QEMU's megasas), booted
// directly into our initramfs: the loader's report of its on-demand fetch, from the request to the server
// through the bundle's download and sha256 check, the modules loaded, to the disk appearing.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { requireBootArtefacts } from "../test-vm/paths.js";
import { directLoaderBoot, Vm } from "../test-vm/qemu.js";
import { startTestServer, waitForMachine } from "../test-vm/test-server.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const TIMEOUT_MS = 240_000;

export async function driverFigures(): Promise<Figure[]> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-drivers-"));
  const server = await startTestServer(dir);
  try {
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const mac = `52:54:00:be:d7:${i.toString(16).padStart(2, "0")}`;
      const disk = join(dir, `raid-${i}.img`);
      writeFileSync(disk, "");
      truncateSync(disk, 64 * 2 ** 20);
      const vm = Vm.start({
        name: `bench-drivers-${i}`,
        workDir: join(dir, `vm-${i}`),
        accel,
        firmware: "bios",
        boot: directLoaderBoot(mac, server.advertiseUrl),
        mac,
        extraArgs: [
          "-device",
          "megasas,id=raid",
          "-drive",
          `file=${disk},if=none,id=raid-disk,format=raw`,
          "-device",
          "scsi-hd,drive=raid-disk,bus=raid.0",
        ],
      });
      try {
        const report = await waitForMachine(server, mac, (m) => m?.inventory?.details?.drivers, TIMEOUT_MS);
        if (!report.loaded.includes("megaraid_sas") || report.error)
          throw new Error(`megaraid_sas not loaded on demand: ${JSON.stringify(report)}`);
        runs.push(report.elapsedMs);
      } finally {
        await vm.stop();
      }
    }
    return [
      {
        id: "drivers.on_demand_ms",
        value: Math.round(median(runs)),
        unit: "ms",
        note: `goal ≤ 2,000; megaraid_sas (+ scsi_mod, scsi_common) for QEMU's megasas, request → bundle fetched and checked → insmod → disk in /sys/block; accel ${accel}; median of ${RUNS}: [${runs.join(", ")}]`,
      },
    ];
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
