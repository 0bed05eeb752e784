// The maintenance swap end to end on real VMs (seeds 001, 004), with the tiny OS image. One VM carries
// the three checks in turn (one install, then three swaps), as one machine would live through them:
// - repair: an installed VM whose boot sector the test destroys cannot boot; an operator swaps it into
//   the repair image (rebooted through a real BMC: ipmitool → OpenIPMI's ipmi_sim → QEMU), the image
//   restores the boot area recorded at install, the VM is swapped back and boots its original OS
//   through the firmware (the plan says `reboot: kexec`, but a repair image's work is proven by a real boot);
// - health: the installed OS's reporter posts a reading below a policy threshold, the diagnostic image
//   runs in passive mode (rebooted in band: the reporter is told to), its report is stored, the VM returns
//   by the loader's kexec into the installed kernel;
// - fault: a maintenance image that never reports times out, the machine is failed with the reason, and
//   one restore command (power through QMP) brings the original system back.
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildMaintenanceImage } from "../build-scripts/build-maintenance-image.js";
import { MaintenanceRun, MaintenanceRunList, type MaintenanceReport } from "../protocol/index.js";
import { uploadImage } from "../server/cli/image-commands.js";
import type { RunningServer } from "../server/server.js";
import { TEST_ADMIN_TOKEN, jsonRequest } from "../server/test-support.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { startIpmiBmc, type IpmiBmc } from "./ipmi-bmc.js";
import { packMaintenanceImage } from "./maintenance-image.js";
import { readBytes } from "./disk-bytes.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { installAndWaitForCallHome, serveTinyImage, startTestServer, waitForMachine } from "./test-server.js";

let accel: Accelerator;
let dir: string;
let server: RunningServer;
let bmc: IpmiBmc | undefined;
const vms: Vm[] = [];

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`${server.url}${path}`, method, body);

const MACHINE = { mac: "52:54:00:a9:00:01", id: "0e0c8a6a-6f5f-4c43-9d57-0000000000a9" };
/** The VM the three tests share (started by the first), its serial and its second QMP socket (ours). */
let machineVm: Vm | undefined;
const SERIAL = "MNT-machine";
const qmpSocket = () => join(dir, "machine", "server-qmp.sock");
const SECTOR = 512;
/** Protective MBR (with the boot code) and the primary GPT: LBA 0-33. */
const BOOT_AREA_BYTES = 34 * SECTOR;

function zeroBytes(path: string, offset: number, length: number): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.alloc(length), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

function callHomes(vm: Vm, id: string): number {
  return vm.console().split(`bootwright-os: called home machine=${id}`).length - 1;
}

/** Waits until the VM's OS has called home more than `before` times (a reboot into it completed). */
async function waitForCallHomeAfter(vm: Vm, id: string, before: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (callHomes(vm, id) <= before) {
    if (Date.now() > deadline)
      throw new Error(`${vm.name}: no new call home in ${timeoutMs} ms\n${vm.describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function healthReports(id: string): Promise<{ figures: Record<string, number> }[]> {
  return ((await api(`/v1/machines/${id}/health`)).body as { reports: { figures: Record<string, number> }[] })
    .reports;
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function runsOf(id: string): Promise<MaintenanceRun[]> {
  return MaintenanceRunList.parse((await api(`/v1/machines/${id}/maintenance`)).body).runs;
}

/**
 * Waits for the machine's run number `count` (1-based) to end, completed (its OS back: installed) or
 * failed; prints the console on failure.
 */
async function waitForRunEnd(vm: Vm, id: string, count: number, timeoutMs: number): Promise<MaintenanceRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await runsOf(id))[count - 1];
    const category = (await server.store.getMachine(id))?.category;
    if ((run?.state === "completed" && category === "installed") || run?.state === "failed") return run;
    if (Date.now() > deadline) {
      console.log(`[${vm.name}] console tail:\n${vm.console().split("\n").slice(-40).join("\n")}`);
      throw new Error(
        `${id}: maintenance run ${count} did not end in ${timeoutMs} ms: ${JSON.stringify(run)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function tinyVm(name: string, machine: { mac: string; id: string }, extraArgs: string[] = []): Vm {
  const vm = Vm.start({
    name,
    workDir: join(dir, name),
    accel,
    firmware: "bios",
    boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
    mac: machine.mac,
    uuid: machine.id,
    smbios: [`type=1,manufacturer=Acme,product=MNT-${name},serial=${SERIAL}`],
    disksMiB: [128],
    memoryMiB: 1024,
    allowReboot: true,
    extraArgs,
  });
  vms.push(vm);
  return vm;
}

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  const diagnostic = await buildMaintenanceImage({ kind: "diagnostic" });
  const repair = await buildMaintenanceImage({ kind: "repair" });
  dir = mkdtempSync(join(tmpdir(), "bootwright-maintenance-"));
  server = await startTestServer(dir, 0, { maintenanceReportMs: 5_000, healthReportMs: 3_000 });
  await serveTinyImage(server, "MNT-*", {}, { reboot: "kexec" });
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
  await uploadImage(
    server.url,
    repair.path,
    { name: "repair", format: "tar.zst", purpose: "repair" },
    TEST_ADMIN_TOKEN,
  );
}, 20 * 60_000);

afterAll(async () => {
  await Promise.all(vms.map((vm) => vm.stop()));
  await bmc?.stop();
  await server.close();
  if (!process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

it("repair: a destroyed boot sector is restored by the repair image, rebooted through IPMI; the VM boots its OS again", async () => {
  const workDir = join(dir, "machine");
  bmc = await startIpmiBmc({ workDir, qmpSocket: join(workDir, "qmp.sock") });
  // The BMC's chassis drives QEMU through its own QMP socket; the fault test's QMP driver gets a second.
  const vm = tinyVm("machine", MACHINE, [...bmc.qemuArgs, "-qmp", `unix:${qmpSocket()},server=on,wait=off`]);
  machineVm = vm;
  const { id } = MACHINE;
  await installAndWaitForCallHome(server, vm, id, { enroll: 240_000, install: 600_000 });
  const disk = join(workDir, "disk0.img");
  const installed = readBytes(disk, 0, BOOT_AREA_BYTES);
  expect(installed.readUInt16LE(510)).toBe(0xaa55);
  const bootArea = (await api(`/v1/machines/${id}/boot-area`)).body;
  expect(bootArea).toMatchObject({ device: "vda", image: expect.stringMatching(/^sha256:/) as unknown });
  expect((await api(`/v1/machines/${id}/power`, "PUT", bmc.settings)).status).toBe(200);

  // What malware or a bad write does: the boot code, partition table and GPT header are gone.
  zeroBytes(disk, 0, BOOT_AREA_BYTES);
  const before = callHomes(vm, id);
  const cycle = await api(`/v1/machines/${id}/power/cycle`, "POST");
  expect(cycle.body).toMatchObject({ driver: "ipmi", ok: true });
  // iPXE sends it to its disk, which no longer boots.
  await vm.waitForConsole(/not a bootable disk|No bootable device|Could not boot/, 120_000);
  expect(callHomes(vm, id)).toBe(before);

  const started = Date.now();
  // Active: the run answers the server's poll, and the operator sends one more step (a second check,
  // which must find nothing left to restore).
  const start = await api(`/v1/machines/${id}/maintenance`, "POST", { image: "repair", mode: "active" });
  expect(start.status).toBe(201);
  expect(MaintenanceRun.parse(start.body).power).toEqual([
    expect.objectContaining({ via: "ipmi", ok: true }),
  ]);
  const extra = await api(`/v1/machines/${id}/maintenance/steps`, "POST", { name: "check-boot-area" });
  expect(extra.status).toBe(200);
  const run = await waitForRunEnd(vm, id, 1, 600_000);
  expect(run.state).toBe("completed");
  await waitForCallHomeAfter(vm, id, before, 120_000);
  console.log(
    `[maintenance repair] start → back in the original OS: ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const report = run.report as MaintenanceReport;
  expect(report.steps.map((s) => [s.name, s.ok, s.extra])).toEqual([
    ["check-boot-area", true, false],
    ["restore-boot-area", true, false],
    ["fsck-root", true, false],
    ["check-boot-area", true, true],
  ]);
  expect(report.steps[0]?.data).toMatchObject({ differs: true });
  // At least the MBR and the GPT header (unused entry sectors were zeros already).
  expect(Number(report.steps[1]?.data.restoredSectors)).toBeGreaterThanOrEqual(2);
  expect(report.steps[3]?.data).toMatchObject({ differs: false });
  expect(run.extraSteps).toEqual([{ step: { name: "check-boot-area", params: {} }, delivered: true }]);
  expect(readBytes(disk, 0, BOOT_AREA_BYTES).equals(installed)).toBe(true);
  // The BMC was told to network-boot the machine, as a real one would be.
  expect(bmc.bootDevice()).toBe("pxe");
  const log = (await api(`/v1/machines/${id}/log`)).body as {
    entries: { event: string; data: Record<string, unknown> }[];
  };
  const events = log.entries.map((e) => e.event);
  for (const event of [
    "maintenance-started",
    "maintenance-power",
    "maintenance-image-booted",
    "maintenance-running",
    "maintenance-step-added",
    "maintenance-progress",
    "agent-step-finished",
    "maintenance-report",
    "maintenance-returning",
    "maintenance-completed",
  ])
    expect(events).toContain(event);
  expect(log.entries.find((e) => e.event === "maintenance-completed")?.data).toMatchObject({
    sameImage: true,
    image: run.original.image,
  });
  expect((await server.store.getMachine(id))?.category).toBe("installed");
  // The plan allows kexec (the install took it), but the way back from a repair is a firmware boot.
  const ways = log.entries.filter((e) => e.event === "reboot-way").map((e) => e.data);
  expect(ways).toEqual([
    expect.objectContaining({ via: "kexec" }),
    expect.objectContaining({ via: "firmware", reason: expect.stringMatching(/repair image/) as unknown }),
  ]);
}, 1_500_000);

it("health: a reading below the policy threshold runs the diagnostic image (passive, in-band reboot); the report is kept", async () => {
  const vm = machineVm;
  if (!vm) throw new Error("the repair test did not start the machine");
  const { id } = MACHINE;
  // No power driver until the fault test: the swap must reboot the machine in band.
  expect((await api(`/v1/machines/${id}/power`, "PUT", { driver: "none" })).status).toBe(200);
  // The reporter's real reading; the operator's threshold is set above it.
  await waitFor(
    async () => (await healthReports(id)).length > 0,
    60_000,
    "a health report from the installed OS",
  );
  const reading = (await healthReports(id)).at(-1)?.figures.memoryBandwidthMBs ?? 0;
  expect(reading).toBeGreaterThan(0);
  const threshold = reading * 10;
  const policy = {
    rules: [
      { name: "tiny", match: [{ fact: "product", glob: "MNT-*" }], plan: { image: "tiny", reboot: "kexec" } },
    ],
    health: [
      {
        name: "slow-memory",
        match: [{ fact: "serial", equals: SERIAL }],
        figure: "memoryBandwidthMBs",
        below: threshold,
        maintenance: { image: "diagnostic", mode: "passive", timeoutMinutes: 10 },
      },
    ],
  };
  expect((await api("/v1/policy", "PUT", { format: "json", source: JSON.stringify(policy) })).status).toBe(
    200,
  );
  const before = callHomes(vm, id);
  // The repair test's run was the machine's first.
  const run = await waitForRunEnd(vm, id, 2, 600_000);
  await waitForCallHomeAfter(vm, id, before, 120_000);
  expect(run).toMatchObject({
    state: "completed",
    mode: "passive",
    trigger: {
      kind: "health",
      rule: "slow-memory",
      figure: "memoryBandwidthMBs",
      comparison: "below",
      threshold,
    },
    power: [expect.objectContaining({ via: "in-band", ok: true })],
  });
  expect(await vm.waitForConsole(/reboot requested by the server/, 1_000)).toBeTruthy();
  // Back by kexec: the loader started the tiny OS's kernel as its syslinux.cfg names it.
  const back = (await server.store.machineLog(id)).filter(
    (e) => (e.event === "agent-progress" && e.data.step === "kexec") || e.event === "reboot-way",
  );
  expect(back.slice(-2).map((e) => e.data)).toEqual([
    expect.objectContaining({ via: "kexec" }),
    expect.objectContaining({ plugin: "boot", config: "syslinux.cfg", kernel: "/vmlinuz" }),
  ]);
  const report = run.report as MaintenanceReport;
  expect(report.steps.map((s) => s.name)).toEqual(["cpu-benchmark", "memory-test", "disk-read", "smart"]);
  expect(report.steps.every((s) => s.ok)).toBe(true);
  console.log(
    `[maintenance health] report: ${JSON.stringify(report.steps.map((s) => ({ [s.name]: s.data })))}`,
  );
  // Still below the threshold after the return: the crossing fired once. Rules are applied as each
  // report is stored, so two more reports from the returned OS are enough to see a second firing.
  const reportsNow = (await healthReports(id)).length;
  await waitFor(
    async () => (await healthReports(id)).length >= reportsNow + 2,
    60_000,
    "two more health reports",
  );
  expect((await runsOf(id)).filter((r) => r.trigger.kind === "health")).toHaveLength(1);
}, 1_500_000);

it("fault: a maintenance image that never reports times out, fails with the reason; restore brings the OS back (QMP)", async () => {
  const { id } = MACHINE;
  const vm = machineVm;
  if (!vm) throw new Error("the repair test did not start the machine");
  // An operator's own maintenance image whose one step never returns.
  const hang = join(dir, "hang.tar.zst");
  await packMaintenanceImage(hang, {
    manifest: {
      name: "hang",
      purpose: "diagnostic",
      description: "a diagnostic that never finishes",
      program: "program.mjs",
      steps: { hang: "waits forever" },
      defaultSteps: [{ name: "hang", params: {} }],
    },
    program:
      "export const steps = { hang: { describe: 'waits forever', run: () => new Promise(() => {}) } };\n",
  });
  await uploadImage(
    server.url,
    hang,
    { name: "hang", format: "tar.zst", purpose: "diagnostic" },
    TEST_ADMIN_TOKEN,
  );
  expect((await api(`/v1/machines/${id}/power`, "PUT", { driver: "qmp", socket: qmpSocket() })).status).toBe(
    200,
  );

  const start = await api(`/v1/machines/${id}/maintenance`, "POST", {
    image: "hang",
    mode: "passive",
    timeoutMs: 120_000,
  });
  expect(start.status).toBe(201);
  const failed = await waitForRunEnd(vm, id, 3, 300_000);
  expect(failed.state).toBe("failed");
  // The loader gives the step up at the run's deadline and reports it; had the machine died, the
  // server's own deadline would have said "did not report completion by".
  expect(failed.error).toMatch(/hang: step hang did not finish by the run's deadline/);
  expect(failed.original.image).toMatch(/^sha256:/);
  expect((await server.store.getMachine(id))?.category).toBe("failed");

  const before = callHomes(vm, id);
  const restore = await api(`/v1/machines/${id}/maintenance/restore`, "POST");
  expect(restore.status).toBe(200);
  expect(MaintenanceRun.parse(restore.body).power.at(-1)).toMatchObject({ via: "qmp", ok: true });
  await waitForCallHomeAfter(vm, id, before, 180_000);
  await waitForMachine(server, id, (m) => m?.category === "installed", 30_000);
  const restored = (await runsOf(id)).at(-1);
  // Completed by the restore; the error that failed it stays on record.
  expect(restored).toMatchObject({ id: failed.id, state: "completed", error: failed.error });
  const log = (await api(`/v1/machines/${id}/log`)).body as {
    entries: { event: string; data: Record<string, unknown> }[];
  };
  expect(log.entries.filter((e) => e.event === "maintenance-completed").at(-1)?.data).toMatchObject({
    run: failed.id,
    restored: true,
    sameImage: true,
  });
  await vm.stop();
}, 1_500_000);
