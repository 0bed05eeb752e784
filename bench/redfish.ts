// Redfish power figure (../shared/design/benchmarks.md): one tiny-OS VM behind the stand-in Redfish BMC
// (test-vm/redfish-bmc.ts: HTTPS, a session, QMP underneath), reset → the OS's first console line,
// through the Redfish driver's cycle ÷ the same through QMP's system_reset directly, in the same run on
// the same VM (power.redfish_cycle_s). The Redfish cycle is the driver's own: boot override read back,
// off (graceful wait 0: the tiny OS has no ACPI daemon, a wait would only measure its length), on, each
// power state read back; the override is Hdd here so both boot the same disk.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { run } from "../build-scripts/os-image/run.js";
import { qmpExecute } from "../server/power/qmp.js";
import { loginOf, withRedfish } from "../server/power/redfish-client.js";
import { restartInto } from "../server/power/redfish.js";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { Vm } from "../test-vm/qemu.js";
import { startRedfishBmc } from "../test-vm/redfish-bmc.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const BOOTED = "bootwright-os: booted tiny";
const BOOT_TIMEOUT_MS = 180_000;

export async function redfishFigures(): Promise<Figure[]> {
  const image = await buildOsImage({ kind: "tiny" });
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-redfish-"));
  const qmpSocket = join(dir, "qmp.sock");
  const bmc = await startRedfishBmc({ qmpSocket });
  let vm: Vm | undefined;
  try {
    const disk = join(dir, "tiny.raw");
    await run("zstd", ["-d", "-q", "-f", "-o", disk, image.paths.zst]);
    vm = Vm.start({
      name: "bench-redfish",
      workDir: join(dir, "vm"),
      accel,
      firmware: "bios",
      boot: { kind: "firmware", order: "c" },
      mac: "52:54:00:1f:00:b1",
      diskImages: [disk],
      allowReboot: true,
      extraArgs: bmc.qemuArgs,
    });
    const booted = vm;
    const boots = (): number => booted.console().split(BOOTED).length - 1;
    const nextBoot = async (after: number, started: number): Promise<number> => {
      await booted.waitForConsole(new RegExp(`(?:${BOOTED}[\\s\\S]*?){${after + 1}}`), BOOT_TIMEOUT_MS);
      return (performance.now() - started) / 1000;
    };
    await nextBoot(0, performance.now());

    const viaQmp: number[] = [];
    const viaRedfish: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let before = boots();
      let started = performance.now();
      await qmpExecute(qmpSocket, ["system_reset"], AbortSignal.timeout(10_000));
      viaQmp.push(await nextBoot(before, started));

      before = boots();
      started = performance.now();
      await withRedfish(loginOf(bmc.settings), AbortSignal.timeout(60_000), (client) =>
        restartInto(client, "Hdd", 0, AbortSignal.timeout(60_000)),
      );
      viaRedfish.push(await nextBoot(before, started));
    }
    const ours = median(viaRedfish);
    const baseline = median(viaQmp);
    return [
      {
        id: "power.redfish_cycle_s",
        value: Number((ours / baseline).toFixed(2)),
        unit: "ratio",
        ours: Number(ours.toFixed(2)),
        baseline: Number(baseline.toFixed(2)),
        baseline_is: "QMP system_reset of the same VM, same run",
        note: `reset → the tiny OS's first console line, median of ${RUNS}; stand-in BMC on loopback; ${accel}; goal ≤ 1.1`,
      },
    ];
  } finally {
    await vm?.stop();
    await bmc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
