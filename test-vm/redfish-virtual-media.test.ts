// Redfish virtual media end to end (issue 23): a VM whose NIC has no boot ROM (no PXE path at all) and an
// empty disk, behind the stand-in BMC (test-vm/redfish-bmc.ts: no Redfish BMC can run here). The operator
// sets its power driver to boot virtual media and power-cycles it: the server builds its rescue ISO,
// the BMC fetches it into the VM's virtual CD, boots it once; the loader on it enrolls over the OS's own
// network, the server ejects the media, the tiny image is installed and the VM boots it from its disk.
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PowerView, RESCUE_MEDIA_PATH } from "../protocol/index.js";
import type { RunningServer } from "../server/server.js";
import { cliOutput, inventoryFor, jsonRequest } from "../server/test-support.js";
import { chooseAccelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { startRedfishBmc, type RedfishBmc } from "./redfish-bmc.js";
import { serveTinyImage, startTestServer, waitForMachine } from "./test-server.js";

const UUID = "7d3c1e0a-5b1f-4d3e-9a41-0000000000f7";
const MAC = "52:54:00:1f:00:07";

let dir: string;
let server: RunningServer;
let bmc: RedfishBmc;
let vm: Vm;

const bootwright = (...args: string[]): Promise<string> => cliOutput(server.url, dir, args);

beforeAll(async () => {
  requireBootArtefacts();
  dir = mkdtempSync(join(tmpdir(), "bootwright-redfish-media-"));
  server = await startTestServer(join(dir, "data"));
  await serveTinyImage(server, "VMED-*");
  bmc = await startRedfishBmc({ qmpSocket: join(dir, "qmp.sock") });
  const disk = join(dir, "vm", "disk.img");
  mkdirSync(join(dir, "vm"), { recursive: true });
  writeFileSync(disk, "");
  truncateSync(disk, 512 * 2 ** 20);
  vm = Vm.start({
    name: "redfish-virtual-media",
    workDir: join(dir, "vm"),
    accel: await chooseAccelerator(),
    firmware: "bios",
    // The disk first (empty: SeaBIOS skips it); nothing else until the BMC says otherwise.
    boot: { kind: "firmware", order: "c" },
    mac: MAC,
    uuid: UUID,
    nicRom: false,
    smbios: ["type=1,manufacturer=Acme,product=VMED-1,serial=VMED-0001"],
    allowReboot: true,
    extraArgs: [
      ...bmc.qemuArgs,
      "-drive",
      `file=${disk},if=none,id=disk0,format=raw`,
      "-device",
      "virtio-blk-pci,drive=disk0",
    ],
  });
  // The machine as the site knows it before its first boot: registered with its BMC (Ironic's enroll).
  const registered = await jsonRequest(
    `${server.url}/v1/inventory`,
    "POST",
    inventoryFor(MAC, { product: "VMED-1", serial: "VMED-0001", uuid: UUID }),
    null,
  );
  expect(registered.status).toBe(200);
}, 300_000);

afterAll(async () => {
  try {
    await vm.stop();
    await bmc.stop();
    await server.close();
  } finally {
    if (!process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
  }
});

it("a machine with no PXE path boots the server's rescue media from its virtual CD, enrolls and installs", async () => {
  process.env.BOOTWRIGHT_TEST_BMC_PASSWORD = bmc.password;
  const set = await bootwright(
    "power",
    "set",
    UUID,
    "--driver",
    "redfish",
    "--url",
    bmc.url,
    "--user",
    bmc.username,
    "--password-env",
    "BOOTWRIGHT_TEST_BMC_PASSWORD",
    "--cert-sha256",
    bmc.pin,
    "--graceful-timeout",
    "2s",
    "--boot",
    "virtual-media",
  );
  expect(set).toContain("boots the server's rescue media from the BMC's virtual CD");
  expect(PowerView.parse(JSON.parse(await bootwright("power", "show", UUID, "--json")))).toMatchObject({
    driver: "redfish",
    boot: "virtual-media",
  });
  const expected = await jsonRequest(`${server.url}/v1/machines/${UUID}/expected`, "PUT", {
    category: "installed",
  });
  expect(expected.status).toBe(200);

  const requestsBefore = bmc.requests().length;
  const cycled = await bootwright("power", "cycle", UUID);
  expect(cycled).toMatch(new RegExp(`^${UUID}: power cycled by redfish`));
  // The BMC was told to fetch our ISO (over plain HTTP, as firmware fetches its files), then to boot a CD once.
  const asked = bmc
    .requests()
    .slice(requestsBefore)
    .map((r) => `${r.method} ${r.path}`);
  expect(asked).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^POST .*VirtualMedia\/Cd\/Actions\/VirtualMedia\.InsertMedia$/),
      expect.stringMatching(/^PATCH \/redfish\/v1\/Systems\/vm0$/),
    ]),
  );
  expect(bmc.qmpLog()).toEqual(
    expect.arrayContaining(['human-monitor-command {"command-line":"boot_set d"}']),
  );

  await vm.waitForConsole(/ok rescue media device=sr0 server=http:\/\/10\.0\.2\.2:/, 240_000);
  await waitForMachine(server, UUID, (m) => m?.category === "installed" || m?.category === "failed", 300_000);
  const log = await server.store.machineLog(UUID);
  expect((await server.store.getMachine(UUID))?.category, JSON.stringify(log.slice(-4))).toBe("installed");
  await vm.waitForConsole(new RegExp(`bootwright-os: called home machine=${UUID}`), 120_000);

  const events = log.map((entry) => entry.event);
  expect(events).toEqual(expect.arrayContaining(["virtual-media-inserted", "virtual-media-ejected"]));
  expect(log.find((e) => e.event === "virtual-media-inserted")?.data).toEqual({
    via: "redfish",
    url: `${server.bootUrl}${RESCUE_MEDIA_PATH}`,
  });
  // The ejection came once the machine enrolled from the media, before the install.
  expect(events.indexOf("virtual-media-ejected")).toBeLessThan(events.lastIndexOf("category"));
  expect(bmc.qmpLog()).toContain('eject {"device":"cd0","force":true}');
}, 900_000);
