// Erase figures (issue 18): in one VM with two disks, our full erase's write against
// `dd if=/dev/zero bs=4M oflag=direct` on the same disk, alternating 3 times; and our quick erase of the
// two disks, each carrying an ext4 filesystem (agent/loader/erase-bench.ts prints the times).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { requireBootArtefacts } from "../test-vm/paths.js";
import { directLoaderBoot, Vm } from "../test-vm/qemu.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const DISK_MIB = 2048;

export async function eraseFigures(): Promise<Figure[]> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-erase-"));
  const mac = "52:54:00:be:30:01";
  // No server: the bench runs before the loader would enroll, then powers off.
  const vm = Vm.start({
    name: "bench-erase",
    workDir: dir,
    accel,
    firmware: "bios",
    boot: directLoaderBoot(mac, "http://10.0.2.2:9", `bootwright.bench-erase=${RUNS}`),
    mac,
    disksMiB: [DISK_MIB, 64],
  });
  try {
    const match = await vm.waitForConsole(
      /bench-erase bytes=(\d+) oursS=(\S+) baselineS=(\S+) quickS=(\S+)/,
      1_800_000,
    );
    const parse = (list: string | undefined): number[] => (list ?? "").split(",").map(Number);
    const mb = Number(match[1]) / 1e6;
    const ours = mb / median(parse(match[2]));
    const baseline = mb / median(parse(match[3]));
    return [
      {
        id: "erase.full_vs_dd",
        value: Number((ours / baseline).toFixed(2)),
        unit: "ratio",
        ours: Number(ours.toFixed(1)),
        baseline: Number(baseline.toFixed(1)),
        baseline_is: "dd if=/dev/zero bs=4M oflag=direct on the same disk in the same VM, alternating",
        note: `MB/s of the write (the read-back check comes after, not counted), median of ${RUNS}; ${DISK_MIB} MiB virtio disk; accel ${accel}; goal ≥ 0.9`,
      },
      {
        id: "erase.quick_s",
        value: Number(median(parse(match[4])).toFixed(2)),
        unit: "s",
        note: `two disks (${DISK_MIB} and 64 MiB) with ext4, wipefs + read-back check, median of ${RUNS}; accel ${accel}; goal ≤ 5`,
      },
    ];
  } finally {
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
