// The IPMI power driver against a real BMC: OpenIPMI's ipmi_sim spoken to by ipmitool, its chassis wired
// to a VM booting the tiny OS image from disk. A cycle sets PXE boot and resets the VM (or powers it on
// when it is off): the OS boots again. Failures (wrong password, refused bootdev, silent BMC) are clear
// PowerErrors, in seconds.
import { mkdtempSync, rmSync } from "node:fs";
import { createSocket, type Socket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { buildOsImage, type BuiltOsImage } from "../build-scripts/build-os-image.js";
import { run } from "../build-scripts/os-image/run.js";
import { IpmiPowerDriver, type IpmitoolError } from "../server/power/ipmi.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { startIpmiBmc } from "./ipmi-bmc.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";

const BUILD_TIMEOUT_MS = 10 * 60_000;
const BOOT_TIMEOUT_MS = 120_000;

let workDir: string;
let accel: Accelerator;
let image: BuiltOsImage;
const cleanups: (() => Promise<void>)[] = [];
const timings: string[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  workDir = mkdtempSync(join(tmpdir(), "bootwright-ipmi-"));
  accel = await chooseAccelerator();
  image = await buildOsImage({ kind: "tiny" });
}, BUILD_TIMEOUT_MS);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(() => {
  if (workDir && !process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(workDir, { recursive: true, force: true });
  if (timings.length) process.stderr.write(`[test-vm] IPMI power: ${timings.join("; ")}\n`);
});

/** Waits until the tiny OS has said it booted `count` times on the console. */
function waitForBoots(vm: Vm, count: number): Promise<RegExpMatchArray> {
  return vm.waitForConsole(new RegExp(`(?:bootwright-os: booted tiny[\\s\\S]*?){${count}}`), BOOT_TIMEOUT_MS);
}

const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(2)} s`;

/** The driver's promise, settled: the PowerError it threw (a test fails if it resolved). */
async function rejection(promise: Promise<void>): Promise<IpmitoolError> {
  try {
    await promise;
  } catch (err) {
    return err as IpmitoolError;
  }
  throw new Error("the power cycle succeeded; it should have failed");
}

it(
  "bios: a cycle sets PXE boot and resets the running VM; a VM that is off is powered on",
  async () => {
    const dir = join(workDir, "cycle");
    const disk = join(workDir, "tiny.raw");
    await run("zstd", ["-d", "-q", "-f", "-o", disk, image.paths.zst]);
    const bmc = await startIpmiBmc({ workDir: dir, qmpSocket: join(dir, "qmp.sock") });
    cleanups.push(() => bmc.stop());
    const vm = Vm.start({
      name: "ipmi-power",
      workDir: join(dir, "vm"),
      accel,
      firmware: "bios",
      boot: { kind: "disk" },
      mac: "52:54:00:1b:00:01",
      diskImages: [disk],
      allowReboot: true,
      extraArgs: bmc.qemuArgs,
    });
    cleanups.push(() => vm.stop());

    await waitForBoots(vm, 1);
    timings.push(`power-on → first boot ${seconds(vm.startedAt)}`);
    expect(bmc.vmConnected()).toBe(true);
    expect(await bmc.ipmitool(["chassis", "power", "status"])).toMatch(/^Chassis Power is on$/m);
    await bmc.ipmitool(["chassis", "bootdev", "disk"]);
    expect(bmc.bootDevice()).toBe("default");

    const driver = new IpmiPowerDriver(bmc.settings);
    let started = performance.now();
    await driver.cycle(AbortSignal.timeout(60_000));
    timings.push(`cycle (bootdev + status + reset) ${seconds(started)}`);
    expect(bmc.bootDevice()).toBe("pxe");
    expect(bmc.calls()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^set boot pxe -> ok/),
        expect.stringMatching(/^get power -> power:1/),
        expect.stringMatching(/^set reset 1 -> ok/),
      ]),
    );
    await waitForBoots(vm, 2);
    timings.push(`reset → second boot ${seconds(started)}`);

    // Off is the VM paused (QMP stop): the driver sees it and powers it on rather than resetting it.
    await bmc.ipmitool(["chassis", "power", "off"]);
    expect(await bmc.ipmitool(["chassis", "power", "status"])).toMatch(/^Chassis Power is off$/m);
    const before = bmc.calls().length;
    started = performance.now();
    await driver.cycle(AbortSignal.timeout(60_000));
    timings.push(`cycle from off (bootdev + status + on) ${seconds(started)}`);
    const calls = bmc.calls().slice(before);
    expect(calls.some((c) => c.startsWith("get power -> power:0"))).toBe(true);
    expect(calls.some((c) => c.startsWith("set power 1 -> ok"))).toBe(true);
    expect(calls.some((c) => c.startsWith("set reset"))).toBe(false);
    await waitForBoots(vm, 3);
    timings.push(`power on → third boot ${seconds(started)}`);
    expect(vm.running).toBe(true);
  },
  BOOT_TIMEOUT_MS * 3 + 60_000,
);

it("ipmitool's bootdev is what the chassis remembers; failures are clear PowerErrors, not hangs", async () => {
  const dir = join(workDir, "failures");
  // No VM behind this BMC: its chassis reads as off and cannot be powered on.
  const bmc = await startIpmiBmc({ workDir: dir, qmpSocket: join(dir, "no-vm.sock"), password: "pw-0123" });
  cleanups.push(() => bmc.stop());

  for (const [device, remembered] of [
    ["disk", "default"],
    ["pxe", "pxe"],
  ] as const) {
    expect(await bmc.ipmitool(["chassis", "bootdev", device])).toMatch(/^Set Boot Device to /m);
    expect(bmc.bootDevice()).toBe(remembered);
  }
  // ipmi_sim reads the flags back from the script's `get boot`.
  expect(await bmc.ipmitool(["chassis", "bootparam", "get", "5"])).toMatch(
    /Boot Device Selector : Force PXE/,
  );
  expect(await bmc.ipmitool(["chassis", "power", "status"])).toMatch(/^Chassis Power is off$/m);

  // A wrong password: refused during the RMCP+ session set-up, fast; neither password in the message.
  let started = performance.now();
  let err = await rejection(
    new IpmiPowerDriver({ ...bmc.settings, password: "not-the-one" }).cycle(AbortSignal.timeout(30_000)),
  );
  timings.push(`wrong password refused in ${seconds(started)}`);
  expect(err.code).toBe("power_failed");
  expect(err.command).toEqual(["chassis", "bootdev", "pxe"]);
  expect(err.exitCode).toBe(1);
  expect(err.message).toMatch(/Unable to establish IPMI v2 \/ RMCP\+ session/);
  expect(err.message).not.toMatch(/not-the-one|pw-0123/);
  expect(performance.now() - started).toBeLessThan(10_000);

  // A refused bootdev: ipmitool exits 0, the driver still fails (and resets nothing).
  bmc.refuse("boot", true);
  err = await rejection(new IpmiPowerDriver(bmc.settings).cycle(AbortSignal.timeout(30_000)));
  expect(err).toMatchObject({ code: "power_failed", command: ["chassis", "bootdev", "pxe"], exitCode: 0 });
  expect(err.stderrTail).toMatch(/Set Chassis Boot Parameter 5 failed/);
  bmc.refuse("boot", false);

  // Power on refused (no VM to start): the third command's failure, named.
  err = await rejection(new IpmiPowerDriver(bmc.settings).cycle(AbortSignal.timeout(30_000)));
  expect(err).toMatchObject({ code: "power_failed", command: ["chassis", "power", "on"] });
  expect(err.stderrTail).toMatch(/Up\/On failed/);
  expect(bmc.calls().some((c) => c.startsWith("set power 1 -> error: no VM answers"))).toBe(true);

  // A BMC that never answers: the caller's signal ends ipmitool's retries.
  const silent: Socket = createSocket("udp4");
  await new Promise<void>((done) => silent.bind(0, "127.0.0.1", done));
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        silent.close(() => {
          done();
        });
      }),
  );
  started = performance.now();
  err = await rejection(
    new IpmiPowerDriver({ ...bmc.settings, port: silent.address().port }).cycle(AbortSignal.timeout(2_000)),
  );
  timings.push(`silent BMC given up after ${seconds(started)}`);
  expect(err).toMatchObject({ code: "power_failed", command: ["chassis", "bootdev", "pxe"], exitCode: null });
  expect(err.message).toMatch(/no answer in time/);
  expect(performance.now() - started).toBeLessThan(5_000);
});
