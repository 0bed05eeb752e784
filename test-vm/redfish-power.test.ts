// The Redfish driver end to end, as an operator uses it: a real bootwright server, the real CLI, the
// stand-in BMC (test-vm/redfish-bmc.ts: real HTTPS, self-signed) in front of a real QEMU VM (SeaBIOS
// alone: its banner and "Booting from …" lines on the serial console show each reset and what it booted
// first). `power set` pins the BMC's certificate on first use and stores the password sealed; `power
// cycle` shuts the VM down (gracefully, forced when the firmware ignores the ACPI button), boots it once
// from PXE; `bios apply` stages the policy's BIOS attributes, resets, reads them back and puts the
// one the VM cannot take in the step log.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BiosApplyResult, PowerView } from "../protocol/index.js";
import type { RunningServer } from "../server/server.js";
import { cliOutput, inventoryFor, jsonRequest, runCli } from "../server/test-support.js";
import { qmpExecute } from "../server/power/qmp.js";
import { loginOf, withRedfish } from "../server/power/redfish-client.js";
import { chooseAccelerator } from "./accelerator.js";
import { Vm } from "./qemu.js";
import { startRedfishBmc, type RedfishBmc } from "./redfish-bmc.js";
import { startTestServer } from "./test-server.js";

const UUID = "7d3c1e0a-5b1f-4d3e-9a41-0000000000f1";
const MAC = "52:54:00:1f:00:02";
const POLICY = `rules:
  - name: bios-tuned
    match: []
    plan:
      image: debian-tiny
      bios:
        attributes:
          ProcTurboMode: Disabled
          BootDelaySeconds: 3
          BootMode: Uefi
`;

let dir: string;
let server: RunningServer;
let bmc: RedfishBmc;
let vm: Vm;
const timings: string[] = [];

const bootwright = (...args: string[]): Promise<string> => cliOutput(server.url, dir, args);
const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/** The first "Booting from …" SeaBIOS printed after its banner, past console offset `from`. */
async function firstBootAfter(from: number): Promise<string> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const match = /SeaBIOS \(version[^]*?Booting from ([A-Za-z/ ]+)\.\.\./.exec(vm.console().slice(from));
    if (match?.[1]) return match[1];
    if (performance.now() > deadline) throw new Error(`no new boot on the console\n${vm.describe()}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-redfish-vm-"));
  server = await startTestServer(join(dir, "data"));
  const qmpSocket = join(dir, "qmp.sock");
  bmc = await startRedfishBmc({ qmpSocket });
  vm = Vm.start({
    name: "redfish-power",
    workDir: join(dir, "vm"),
    accel: await chooseAccelerator(),
    firmware: "bios",
    boot: { kind: "firmware", order: "c" },
    mac: MAC,
    uuid: UUID,
    memoryMiB: 128,
    allowReboot: true,
    extraArgs: bmc.qemuArgs,
  });
  await vm.waitForConsole(/SeaBIOS \(version/, 30_000);
  // The machine as its loader would have enrolled it, and a policy whose plan carries BIOS attributes.
  writeFileSync(join(dir, "policy.yaml"), POLICY);
  await bootwright("policy", "set", join(dir, "policy.yaml"));
  const enrolled = await jsonRequest(
    `${server.url}/v1/inventory`,
    "POST",
    inventoryFor(MAC, { product: "QEMU", serial: "VM-RF-1", uuid: UUID }),
    null,
  );
  expect(enrolled.status).toBe(200);
}, 120_000);

afterAll(async () => {
  try {
    await vm.stop();
    await bmc.stop();
    await server.close();
  } finally {
    if (!process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    if (timings.length) process.stderr.write(`[test-vm] Redfish power: ${timings.join("; ")}\n`);
  }
});

it("power set pins the BMC's certificate on first use; a wrong pin stores nothing", async () => {
  process.env.BOOTWRIGHT_TEST_BMC_PASSWORD = bmc.password;
  const base = ["power", "set", UUID, "--driver", "redfish", "--url", bmc.url, "--user", bmc.username];
  const refused = await runCli(server.url, dir, [
    ...base,
    "--password-env",
    "BOOTWRIGHT_TEST_BMC_PASSWORD",
    "--cert-sha256",
    "ab".repeat(32),
  ]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/502: power settings not stored: BMC .* offered certificate sha256:/);
  expect(PowerView.parse(JSON.parse(await bootwright("power", "show", UUID, "--json")))).toMatchObject({
    driver: "none",
  });

  const text = await bootwright(
    ...base,
    "--password-env",
    "BOOTWRIGHT_TEST_BMC_PASSWORD",
    "--graceful-timeout",
    "4s",
  );
  expect(text).toContain(`BMC certificate ${bmc.pin} pinned on first use`);
  const shown = await bootwright("power", "show", UUID, "--json");
  expect(PowerView.parse(JSON.parse(shown))).toEqual({
    driver: "redfish",
    target: `${bmc.username}@${bmc.url}/redfish/v1/Systems/vm0`,
    certificate: { pin: bmc.pin, ca: false, firstUse: true },
    boot: "pxe",
  });
  expect(shown).not.toContain(bmc.password);
  // At rest the password is sealed (server/auth/secret-box.ts); the driver gets it back opened.
  const stored = await server.store.store.read((rows) => rows.machines.power(UUID));
  expect(stored).toMatchObject({
    driver: "redfish",
    password: expect.stringMatching(/^sealed:v1:/) as unknown,
  });
  expect(await server.store.settings.power(UUID)).toMatchObject({ password: bmc.password });
});

it("power cycle: graceful shutdown ignored by the firmware, forced off, then on from PXE once", async () => {
  const from = vm.console().length;
  const sentBefore = bmc.qmpLog().length;
  const started = performance.now();
  const text = await bootwright("power", "cycle", UUID);
  timings.push(`power cycle (4 s graceful wait) ${seconds(started)}`);
  expect(text).toMatch(new RegExp(`^${UUID}: power cycled by redfish in \\d+ ms`));
  expect(
    bmc
      .qmpLog()
      .slice(sentBefore)
      .filter((c) => c !== "query-status"),
  ).toEqual([
    "system_powerdown",
    "stop",
    'human-monitor-command {"command-line":"boot_set n"}',
    "system_reset",
    "cont",
  ]);
  expect(await firstBootAfter(from)).toBe("ROM");
  const [status] = await qmpExecute(join(dir, "qmp.sock"), ["query-status"], AbortSignal.timeout(5_000));
  expect(status).toMatchObject({ status: "running" });
  // The override was for one boot: the BMC has cleared it, so a later power-on boots the VM's own order.
  const boot = await withRedfish(
    loginOf(bmc.settings),
    AbortSignal.timeout(10_000),
    async (client) => (await client.system(AbortSignal.timeout(10_000))).Boot,
  );
  expect(boot).toMatchObject({ BootSourceOverrideTarget: "None", BootSourceOverrideEnabled: "Disabled" });
});

it("bios apply: the policy's attributes staged, applied at the reset, read back; the difference logged", async () => {
  const from = vm.console().length;
  const started = performance.now();
  const run = await runCli(server.url, dir, ["bios", "apply", UUID, "--wait", "30s", "--json"]);
  timings.push(`bios apply ${seconds(started)}`);
  // BootMode cannot change on this VM (QEMU fixes its firmware at start): the CLI says so and exits 1.
  expect(run.code).toBe(1);
  const result = BiosApplyResult.parse(JSON.parse(run.stdout));
  expect(result).toMatchObject({
    machineId: UUID,
    staged: { ProcTurboMode: "Disabled", BootDelaySeconds: 3, BootMode: "Uefi" },
    applied: true,
    differences: [{ name: "BootMode", wanted: "Uefi", actual: "Legacy" }],
    power: { ok: true, error: null },
  });
  expect(result.messages).toEqual([expect.stringMatching(/BootMode cannot become Uefi/)]);
  expect(await firstBootAfter(from)).toBe("ROM");
  const bios = bmc.bios();
  expect(bios.pending).toEqual({});
  expect(bios.current).toMatchObject({ ProcTurboMode: "Disabled", BootDelaySeconds: 3, BootMode: "Legacy" });

  const log = await server.store.machineLog(UUID);
  const events = log.map((entry) => entry.event);
  expect(events.slice(-3)).toEqual(["bios-staged", "bios-reset", "bios-differs"]);
  expect(log.at(-3)?.data).toMatchObject({ from: "policy version 1, rule bios-tuned" });
  expect(log.at(-1)?.data).toEqual({
    applied: true,
    differences: [{ name: "BootMode", wanted: "Uefi", actual: "Legacy" }],
    messages: result.messages,
  });

  // A name the BMC's AttributeRegistry does not have: refused before anything is staged or reset.
  writeFileSync(join(dir, "policy.yaml"), POLICY.replace("ProcTurboMode", "ProcTurbo"));
  await bootwright("policy", "set", join(dir, "policy.yaml"));
  const resets = bmc.qmpLog().filter((c) => c === "system_reset").length;
  const refused = await runCli(server.url, dir, ["bios", "apply", UUID]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/422: .*registry has no attribute ProcTurbo/);
  expect(bmc.qmpLog().filter((c) => c === "system_reset").length).toBe(resets);
  expect(bmc.sessionCount()).toBe(0);
});
