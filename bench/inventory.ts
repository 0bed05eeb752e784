// inventory.* and smbios.* figures: full vs minimal inventory time inside a real VM (the loader times
// both when booted with bootwright.bench-inventory=N), and our SMBIOS parser's throughput on the fixtures.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSmbios } from "../agent/inventory/smbios/index.js";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { REPO_ROOT, requireBootArtefacts } from "../test-vm/paths.js";
import { directLoaderBoot, Vm } from "../test-vm/qemu.js";
import { startTestServer } from "../test-vm/test-server.js";
import { median, type Figure } from "./figures.js";

const RUNS = 9;

export async function inventoryFigures(): Promise<Figure[]> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-inventory-"));
  const server = await startTestServer(dir);
  const mac = "52:54:00:be:10:01";
  const vm = Vm.start({
    name: "bench-inventory",
    workDir: dir,
    accel,
    firmware: "bios",
    boot: directLoaderBoot(mac, server.advertiseUrl, `bootwright.bench-inventory=${RUNS}`),
    mac,
    disksMiB: [64, 64],
  });
  try {
    const match = await vm.waitForConsole(/bench-inventory fullMs=(\S+) minimalMs=(\S+)/, 180_000);
    const parse = (list: string | undefined): number[] => (list ?? "").split(",").map(Number);
    const full = median(parse(match[1]));
    const minimal = median(parse(match[2]));
    return [
      {
        id: "inventory.full_vs_minimal",
        value: Number((full / minimal).toFixed(2)),
        unit: "ratio",
        ours: Number(full.toFixed(2)),
        baseline: Number(minimal.toFixed(2)),
        baseline_is: "minimal inventory (walking skeleton) in the same VM, same boot, alternating runs",
        note: `ms, median of ${RUNS} each, in the VM (accel ${accel}, 2 disks, 1 NIC); goal ≤ 2`,
      },
    ];
  } finally {
    await vm.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function smbiosFigures(): Promise<Figure[]> {
  const root = join(REPO_ROOT, "agent/inventory/fixtures/smbios");
  const fixtures = readdirSync(root)
    .filter((name) => statSync(join(root, name)).isDirectory())
    .map((name) => ({
      entry: readFileSync(join(root, name, "smbios_entry_point")),
      table: readFileSync(join(root, name, "DMI")),
    }));
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    let bytes = 0;
    const started = performance.now();
    while (performance.now() - started < 300) {
      for (const { entry, table } of fixtures) {
        const result = parseSmbios(entry, table);
        if (!result.ok) throw new Error(`fixture does not parse: ${result.error.message}`);
        bytes += entry.length + table.length;
      }
    }
    rates.push(bytes / 1e6 / ((performance.now() - started) / 1000));
  }
  return Promise.resolve([
    {
      id: "smbios.parse_mb_per_s",
      value: Number(median(rates).toFixed(1)),
      unit: "MB/s",
      note: `median of 5 × 300 ms over ${fixtures.length} captured fixtures (tables of a few hundred bytes: per-call cost dominates)`,
    },
  ]);
}
