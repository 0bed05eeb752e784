// End to end: real VMs power on, iPXE (Debian's ROM) fetches our script, boots our kernel + initramfs,
// and the loader's inventory reaches the server. SeaBIOS and OVMF; and a direct boot while the server is
// down, whose VM then carries the command queue check (seed 000): an operator sets the expected category
// of the inventoried VM; the loader pulls the command the difference produced (check-disks: reads both
// ends of every disk), runs it, the category moves and the difference list empties.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../server/server.js";
import { freePort, OPERATOR, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { REPO_ROOT, requireBootArtefacts } from "./paths.js";
import { directLoaderBoot, Vm, type Firmware } from "./qemu.js";
import { GUEST_HOST_ADDRESS, startTestServer, waitForMachine } from "./test-server.js";

const BOOT_TIMEOUT_MS = 180_000;
const DISK_MIB = 512;

let workDir: string;
let accel: Accelerator;
const vms: Vm[] = [];
const servers: RunningServer[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  workDir = mkdtempSync(join(tmpdir(), "bootwright-enroll-"));
  accel = await chooseAccelerator();
});

afterEach(async () => {
  // Stop every VM and server this test started, pass or fail.
  await Promise.all(vms.splice(0).map((vm) => vm.stop()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(() => {
  if (workDir && !process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(workDir, { recursive: true, force: true });
});

describe.each<[Firmware, string, string]>([
  ["bios", "52:54:00:b0:00:01", "0e0c8a6a-6f5f-4c43-9d57-000000000b01"],
  ["uefi", "52:54:00:b0:00:02", "0e0c8a6a-6f5f-4c43-9d57-000000000b02"],
])("network boot through iPXE (%s)", (firmware, mac, uuid) => {
  it("enrolls as discovered at the iPXE request, then inventoried with serial, MAC and disk size", async () => {
    const dir = join(workDir, firmware);
    const server = await startTestServer(dir);
    servers.push(server);
    const vm = Vm.start({
      name: `enroll-${firmware}`,
      workDir: dir,
      accel,
      firmware,
      boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
      mac,
      uuid,
      smbios: ["type=1,manufacturer=Acme,product=X1,serial=SN-123"],
      disksMiB: [DISK_MIB],
      // Two, so the inventory's CPU count is checked against something other than the default.
      cpus: 2,
    });
    vms.push(vm);

    const machine = await waitForMachine(
      server,
      uuid,
      (m) => (m?.category === "inventoried" ? m : undefined),
      BOOT_TIMEOUT_MS,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${vm.describe()}`);
    });
    expect(machine.id).toBe(uuid);
    expect(machine.bootMac).toBe(mac);
    expect(machine.inventory?.system).toEqual({
      manufacturer: "Acme",
      product: "X1",
      serial: "SN-123",
      uuid,
    });
    expect(machine.inventory?.nics).toContainEqual({ name: "eth0", mac });
    expect(machine.inventory?.disks).toEqual([{ name: "vda", sizeBytes: DISK_MIB * 2 ** 20 }]);
    expect(machine.inventory?.cpu.logicalCount).toBe(2);

    // The full inventory matches what QEMU was started with (issue 4).
    const details = machine.inventory?.details;
    expect(details?.firmwareType).toBe(firmware);
    expect(details?.memory.installedBytes).toBe(1024 * 2 ** 20);
    expect(details?.cpu.threads).toBe(2);
    expect(details?.nics).toContainEqual(
      expect.objectContaining({ name: "eth0", mac, driver: "virtio_net" }),
    );
    expect(details?.disks).toEqual([
      expect.objectContaining({ name: "vda", sizeBytes: DISK_MIB * 2 ** 20, kind: "virtual" }),
    ]);
    expect(details?.smbiosError).toBeNull();
    expect(details?.network).toMatchObject({ interface: "eth0", gateway: GUEST_HOST_ADDRESS });

    // The boot list over HTTP shows the same machine.
    const list = (await (await fetch(`${server.url}/v1/machines`, { headers: OPERATOR })).json()) as {
      machines: { id: string; category: string }[];
    };
    expect(list.machines).toEqual([expect.objectContaining({ id: uuid, category: "inventoried" })]);

    // iPXE enrolled it first (discovered), then the loader's inventory moved it on.
    const events = (await server.store.machineLog(uuid))
      // The drivers the loader fetched for QEMU's IDE and power-management functions: drivers.test.ts.
      .filter((entry) => !entry.event.startsWith("driver"))
      .map((entry) => [entry.event, entry.data.via ?? entry.data.to ?? entry.data.scope]);
    // …and the loader got its own credential (the log names its id, never the secret).
    expect(events).toEqual([
      ["discovered", "ipxe"],
      ["inventory", "inventoried"],
      ["credential-issued", "loader"],
    ]);
    const consoleText = await vm.waitForConsole(/ok enrolled machine=\S+ category=inventoried/, 10_000);
    expect(consoleText[0]).toContain(uuid);
    expect(vm.console()).toContain(`bootwright: asking ${server.advertiseUrl} what to boot`);
  });
});

/** The operator's CLI, run as a user would. */
async function bootwright(server: RunningServer, ...args: string[]): Promise<string> {
  // Its token from the environment, as an operator's shell gives it (never on the command line).
  const { stdout } = await promisify(execFile)(
    join(REPO_ROOT, "bin/bootwright"),
    [...args, "--server", server.url],
    {
      env: { ...process.env, BOOTWRIGHT_TOKEN: TEST_ADMIN_TOKEN },
    },
  );
  return stdout;
}

describe("direct boot while the server is down", () => {
  // The two tests share the VM and its server: the second goes on where the first left the machine.
  const mac = "52:54:00:b0:00:03";
  let direct: { vm: Vm; server?: RunningServer } | undefined;
  afterAll(async () => {
    await direct?.vm.stop();
    await direct?.server?.close();
  });

  it("shows its retries on the console and enrolls once the server comes up", async () => {
    const dir = join(workDir, "direct");
    const port = await freePort();
    const vm = Vm.start({
      name: "enroll-direct",
      workDir: dir,
      accel,
      firmware: "bios",
      boot: directLoaderBoot(mac, `http://${GUEST_HOST_ADDRESS}:${port}`),
      mac,
      // All-zero UUID: firmware that has none. Identity must fall back to the boot MAC.
      uuid: "00000000-0000-0000-0000-000000000000",
      smbios: ["type=1,manufacturer=Acme,product=X2,serial=SN-DIRECT"],
      disksMiB: [64, 128],
    });
    direct = { vm };

    // Two failed posts, each saying why, with the wait before the next (its first call is the drivers
    // request for QEMU's IDE and PM functions, before the inventory).
    await vm.waitForConsole(
      /POST \/v1\/(drivers|inventory) failed reason=connection refused.*attempt=2 retryInSeconds=/,
      BOOT_TIMEOUT_MS,
    );
    const server = await startTestServer(dir, port);
    direct.server = server;

    const machine = await waitForMachine(
      server,
      mac,
      (m) => (m?.category === "inventoried" ? m : undefined),
      60_000,
    );
    expect(machine.inventory?.system.serial).toBe("SN-DIRECT");
    expect(machine.inventory?.disks.map((d) => d.sizeBytes)).toEqual([64 * 2 ** 20, 128 * 2 ** 20]);
    const events = (await server.store.machineLog(mac))
      .filter((entry) => !entry.event.startsWith("driver"))
      .map((entry) => [entry.event, entry.data.via ?? entry.data.to ?? entry.data.scope]);
    expect(events).toEqual([
      ["discovered", "inventory"],
      ["inventory", "inventoried"],
      ["credential-issued", "loader"],
    ]);
    await vm.waitForConsole(/ok enrolled machine=52:54:00:b0:00:03 category=inventoried/, 10_000);
  });

  it("expected ready → check-disks runs in the VM → category ready, difference list empty", async () => {
    const vm = direct?.vm;
    const server = direct?.server;
    if (!vm || !server) throw new Error("the enrollment test did not bring the machine up");
    expect(await bootwright(server, "expect", mac, "ready")).toContain("expected ready");
    await waitForMachine(server, mac, (m) => m?.category === "ready" || undefined, 60_000).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}\n${vm.describe()}`);
      },
    );
    expect(JSON.parse(await bootwright(server, "diff", "--json"))).toEqual({
      differences: [],
      enrollment: [],
      drift: [],
      // QEMU's disk controllers all have a driver (virtio from the initramfs, IDE on demand).
      drivers: [],
    });

    // The step log holds what the VM really read: both ends of each disk, 1 MiB each.
    const succeeded = (await server.store.machineLog(mac)).find((e) => e.event === "command-succeeded");
    expect(succeeded?.data.disks).toEqual([
      expect.objectContaining({ name: "vda", sizeBytes: 64 * 2 ** 20, bytesRead: 2 * 2 ** 20 }),
      expect.objectContaining({ name: "vdb", sizeBytes: 128 * 2 ** 20, bytesRead: 2 * 2 ** 20 }),
    ]);
    const events = (await server.store.machineLog(mac)).map((e) => e.event);
    expect(events.slice(events.indexOf("expected"))).toEqual([
      "expected",
      "command-queued",
      "command-leased",
      "command-succeeded",
      "category",
    ]);
    const queue = JSON.parse(await bootwright(server, "queue", mac, "--json")) as {
      commands: { kind: string; state: string }[];
    };
    expect(queue.commands).toEqual([expect.objectContaining({ kind: "check-disks", state: "succeeded" })]);
    expect(await bootwright(server, "log", mac)).toMatch(/command-succeeded/);
    await vm.waitForConsole(/ok command succeeded kind=check-disks/, 10_000);
    await vm.waitForConsole(/ok result recorded category=ready/, 10_000);
  });
});
