// Maintenance figures (../shared/design/benchmarks.md): the whole swap of one installed tiny VM, trigger
// → the diagnostic image's run → back in its original OS (maintenance.cycle_s), and that cycle less the
// maintenance work itself against two plain reboots of the same VM measured in the same run
// (maintenance.overhead_vs_reboots). Reboots go through the QMP power driver, as the swap's do; the way
// back is the loader's kexec into the installed kernel, which the machine's plan allows (`reboot: kexec`).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildMaintenanceImage } from "../build-scripts/build-maintenance-image.js";
import { MaintenanceRun } from "../protocol/index.js";
import { uploadImage } from "../server/cli/image-commands.js";
import type { RunningServer } from "../server/server.js";
import { jsonRequest, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { requireBootArtefacts } from "../test-vm/paths.js";
import { Vm } from "../test-vm/qemu.js";
import { installAndWaitForCallHome, serveTinyImage, startTestServer } from "../test-vm/test-server.js";
import { median, type Figure } from "./figures.js";
import { LOADER_BOOT_PHASES, phasesSince, REBOOT_PHASES } from "./install-phases.js";

// Five, alternating with the reboots: on a shared host one slow run moves a median of three by a fifth.
const RUNS = 5;
const ID = "0e0c8a6a-6f5f-4c43-9d57-0000000000b9";

async function callHomes(server: RunningServer): Promise<number> {
  return (await server.store.machineLog(ID)).filter((e) => e.event === "called-home").length;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench maintenance: no ${what} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Each phase's seconds, joined with "+" (firmware+iPXE, then what follows); "?" for a missing one. */
async function phaseSplit(
  server: RunningServer,
  since: number,
  phases: typeof REBOOT_PHASES,
): Promise<string> {
  return phasesSince(await server.store.machineLog(ID), since, phases)
    .map(([, s]) => (s === null ? "?" : s.toFixed(1)))
    .join("+");
}

interface Reboot {
  /** Power cycle → the installed OS called home again. */
  seconds: number;
  /** Where they went: firmware+iPXE, then the OS to its call home. */
  phases: string;
}

async function plainReboot(server: RunningServer): Promise<Reboot> {
  const before = await callHomes(server);
  const since = Date.now();
  const started = performance.now();
  const cycle = await jsonRequest(`${server.url}/v1/machines/${ID}/power/cycle`, "POST");
  if (!(cycle.body as { ok?: boolean }).ok)
    throw new Error(`power cycle failed: ${JSON.stringify(cycle.body)}`);
  await until("call home after the reboot", async () => (await callHomes(server)) > before, 300_000);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, phases: await phaseSplit(server, since, REBOOT_PHASES) };
}

/** Operator trigger → the original OS called home again; and the run's own work (lease → report). */
interface Cycle {
  cycle: number;
  /** The run's own work: its lease → its report. */
  work: number;
  /** Start → the maintenance image's loader leased the run (reboot, loader boot, enrollment). */
  into: number;
  /** The report → the original OS called home (reboot back). */
  back: number;
  /** Where "into" went: firmware+iPXE, the loader to its inventory (then enrollment and the lease). */
  intoPhases: string;
}

async function maintenanceCycle(server: RunningServer): Promise<Cycle> {
  const since = Date.now();
  const started = performance.now();
  const start = await jsonRequest(`${server.url}/v1/machines/${ID}/maintenance`, "POST", {
    image: "diagnostic",
    mode: "passive",
  });
  if (start.status !== 201) throw new Error(`maintenance start refused: ${JSON.stringify(start.body)}`);
  const runId = MaintenanceRun.parse(start.body).id;
  let run = MaintenanceRun.parse(start.body);
  await until(
    "end of the maintenance run",
    async () => {
      run = MaintenanceRun.parse(
        (await jsonRequest(`${server.url}/v1/maintenance/runs/${runId}`, "GET")).body,
      );
      return run.state === "completed" || run.state === "failed";
    },
    600_000,
  );
  if (run.state !== "completed") throw new Error(`maintenance run ${runId} failed: ${run.error ?? "?"}`);
  const cycle = (performance.now() - started) / 1000;
  const at = (iso: string | null): number => Date.parse(iso ?? "") / 1000;
  return {
    cycle,
    work: at(run.reportedAt) - at(run.runningAt),
    into: at(run.runningAt) - at(run.startedAt),
    back: at(run.endedAt) - at(run.reportedAt),
    intoPhases: await phaseSplit(server, since, LOADER_BOOT_PHASES),
  };
}

export async function maintenanceFigures(): Promise<Figure[]> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const diagnostic = await buildMaintenanceImage({ kind: "diagnostic" });
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-maintenance-"));
  const server = await startTestServer(dir, 0, { pollIntervalMs: 1_000, maintenanceTickMs: 1_000 });
  const qmp = join(dir, "vm", "qmp.sock");
  const vm = Vm.start({
    name: "bench-maintenance",
    workDir: join(dir, "vm"),
    accel,
    firmware: "bios",
    boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
    mac: "52:54:00:b9:00:01",
    uuid: ID,
    smbios: ["type=1,manufacturer=Acme,product=BENCH-maintenance,serial=BENCH-M1"],
    disksMiB: [128],
    allowReboot: true,
    extraArgs: ["-qmp", `unix:${qmp},server=on,wait=off`],
  });
  try {
    // The way back is the loader's jump into the installed kernel: the plan allows it.
    await serveTinyImage(server, "BENCH-*", {}, { reboot: "kexec" });
    await uploadImage(
      server.url,
      diagnostic.path,
      {
        name: "diagnostic",
        format: "tar.zst",
        purpose: "diagnostic",
      },
      TEST_ADMIN_TOKEN,
    );
    await installAndWaitForCallHome(server, vm, ID, { enroll: 240_000, install: 600_000 });
    // Only the ways back count below, not the install's own jump.
    const installedAt = Date.now();
    await jsonRequest(`${server.url}/v1/machines/${ID}/power`, "PUT", { driver: "qmp", socket: qmp });
    const reboots: Reboot[] = [];
    const cycles: Cycle[] = [];
    // Alternating, so both see the same machine load.
    for (let run = 0; run < RUNS; run++) {
      reboots.push(await plainReboot(server));
      cycles.push(await maintenanceCycle(server));
    }
    const reboot = median(reboots.map((r) => r.seconds));
    const cycle = median(cycles.map((c) => c.cycle));
    const overhead = median(cycles.map((c) => c.cycle - c.work));
    const work = median(cycles.map((c) => c.work));
    const into = median(cycles.map((c) => c.into));
    const back = median(cycles.map((c) => c.back));
    const kexecs = (await server.store.machineLog(ID)).filter(
      (e) => e.event === "agent-progress" && e.data.step === "kexec" && Date.parse(e.at) >= installedAt,
    ).length;
    const conditions = `tiny OS, SeaBIOS + iPXE, ${accel.toUpperCase()}, 1 vCPU (CPU max without ERMS/FSRM), QMP power cycle, median of ${RUNS}`;
    return [
      {
        id: "maintenance.cycle_s",
        value: Number(cycle.toFixed(1)),
        unit: "s",
        note: `operator start → diagnostic image (passive, default steps: ${work.toFixed(1)} s of work) → original OS called home; ${conditions}; runs: ${cycles.map((c) => c.cycle.toFixed(1)).join(", ")} s`,
      },
      {
        id: "maintenance.overhead_vs_reboots",
        value: Number((overhead / (2 * reboot)).toFixed(2)),
        unit: "ratio",
        ours: Number(overhead.toFixed(1)),
        baseline: Number((2 * reboot).toFixed(1)),
        baseline_is: "two plain reboots of the same VM (power cycle → its OS called home), same run",
        note: `cycle less the run's own work (lease → report): into the image ${into.toFixed(1)} s (reboot, loader boot, enrollment), back ${back.toFixed(1)} s (the loader's kexec into the installed kernel, its OS to the call home; kexec in ${kexecs} of ${RUNS} ways back); plain reboots: ${reboots.map((r) => `${r.seconds.toFixed(1)} (${r.phases})`).join(", ")} s, each as firmware+iPXE + OS to call home; each run's own ratio (its cycle less work ÷ two of its reboot): ${cycles.map((c, i) => ((c.cycle - c.work) / (2 * (reboots[i]?.seconds ?? reboot))).toFixed(2)).join(", ")}; each cycle into/work/back: ${cycles.map((c) => `${c.into.toFixed(1)}/${c.work.toFixed(1)}/${c.back.toFixed(1)}`).join(", ")} s, each into as firmware+iPXE + loader to inventory (the rest is enrollment and the lease): ${cycles.map((c) => c.intoPhases).join(", ")} s; ${conditions}; goal ≤ 1.5`,
      },
    ];
  } finally {
    await vm.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
