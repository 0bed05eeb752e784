// Booting the way a site boots (issue 16), on site networks the test builds in network namespaces
// (test-vm/site-network.ts): a bridge with tap devices for the VMs, the site's own DHCP server (a plain
// dnsmasq that knows nothing of us), a switch announcing itself with lldpd, and our server running as an
// operator would, with --dhcp proxy (the managed dnsmasq never leases) and its own TFTP server.
// - UEFI firmware's own PXE → TFTP ipxe.efi → /boot.ipxe → enrolls; the LLDP neighbour is in its inventory.
// - UEFI HTTP boot of the loader UKI from the proxy's answer → enrolls, path uefi-http.
// - BIOS with the iPXE ROM as PXE client → enrolls, while the managed dnsmasq, SIGKILLed at power-on,
//   is restarted by the server.
// - Secure Boot on an isolated network (--dhcp full, --uefi-pxe shim): shim → signed GRUB → signed
//   kernel → enrolls with secureBoot true, installs the tiny image and boots it from disk through shim.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Machine } from "../protocol/index.js";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm, type Firmware, type VmBoot } from "./qemu.js";
import { SiteNetwork } from "./site-network.js";
import { SiteServer } from "./site-server.js";

const ENROLL_MS = 240_000;
const SWITCH = { name: "rack12-tor", port: "rack 12 port 3" };

let accel: Accelerator;
let dir: string;
const vms: Vm[] = [];
const sites: SiteNetwork[] = [];
const servers: SiteServer[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  dir = mkdtempSync(join(tmpdir(), "bootwright-site-"));
}, 60_000);

afterAll(async () => {
  await Promise.all(vms.map((vm) => vm.stop()));
  await Promise.all(servers.map((server) => server.stop()));
  await Promise.all(sites.map((site) => site.destroy()));
  if (dir && !process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

function startVm(
  site: SiteNetwork,
  name: string,
  firmware: Firmware,
  boot: VmBoot,
  ids: { mac: string; uuid: string },
  extra: { disksMiB?: number[]; product?: string } = {},
): Vm {
  const vm = Vm.start({
    name,
    workDir: join(dir, name),
    accel,
    firmware,
    boot,
    mac: ids.mac,
    uuid: ids.uuid,
    smbios: [`type=1,manufacturer=Acme,product=${extra.product ?? "SITE-1"},serial=SN-${name}`],
    tap: site.addTap(),
    allowReboot: true,
    ...(extra.disksMiB ? { disksMiB: extra.disksMiB } : {}),
  });
  vms.push(vm);
  return vm;
}

async function enrolled(server: SiteServer, vm: Vm, id: string): Promise<Machine> {
  return server
    .waitForMachine(id, (m) => m?.category === "inventoried" || m?.category === "installed", ENROLL_MS)
    .catch((err: unknown) => {
      throw new Error(`${String(err)}\n${vm.describe()}\nserver log: ${server.logFile}`);
    });
}

/** Expect installed; wait until the installed OS has called home (or fail with the console's story). */
async function installAndCallHome(server: SiteServer, vm: Vm, id: string): Promise<void> {
  const expected = await server.request("PUT", `/v1/machines/${id}/expected`, { category: "installed" });
  expect(expected.status).toBe(200);
  const done = await server
    .waitForMachine(id, (m) => m?.category === "installed" || m?.category === "failed", 300_000)
    .catch((err: unknown) => {
      throw new Error(`${String(err)}\n${vm.describe()}`);
    });
  if (done.category !== "installed") throw new Error(`${id} ended ${done.category}\n${vm.describe()}`);
  await vm.waitForConsole(new RegExp(`bootwright-os: called home machine=${id}`), 60_000);
}

describe("a site network with its own DHCP server: our server in proxy mode", () => {
  let site: SiteNetwork;
  let server: SiteServer;
  let siteLeases: string;

  beforeAll(async () => {
    site = new SiteNetwork({ name: "px", prefix: "10.77.1", workDir: join(dir, "proxy-site") });
    sites.push(site);
    site.create();
    siteLeases = site.startSiteDhcp().leaseFile;
    site.startSwitch(SWITCH.name, SWITCH.port);
    server = await SiteServer.start(site, { dataDir: join(dir, "proxy-server"), dhcp: "proxy" });
    servers.push(server);
    await server.addImage((await buildOsImage({ kind: "tiny" })).paths.zst, "tiny");
    const policy = {
      rules: [
        { name: "http-booted", match: [{ fact: "bootPath", equals: "uefi-http" }], plan: { image: "tiny" } },
      ],
    };
    const set = await server.request("PUT", "/v1/policy", { format: "json", source: JSON.stringify(policy) });
    expect(set.status).toBe(200);
  }, 120_000);

  it("UEFI PXE: firmware → our proxy's offer → TFTP ipxe.efi → /boot.ipxe → enrolled, with the switch port", async () => {
    const ids = { mac: "52:54:00:51:00:01", uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005101" };
    const vm = startVm(site, "pxe-uefi", "uefi", { kind: "site", nic: "firmware" }, ids);
    const machine = await enrolled(server, vm, ids.uuid);
    expect(machine.bootPath).toBe("pxe-uefi");
    const network = machine.inventory?.details?.network;
    // The address is the site's: its DHCP server leased it; ours, in proxy mode, offered none.
    expect(network?.dhcpServer).toBe("10.77.1.2");
    expect(SiteNetwork.leases(siteLeases)).toContainEqual({ mac: ids.mac, address: network?.address });
    expect(existsSync(join(dir, "proxy-server", "dnsmasq.leases"))).toBe(false);
    // The switch the VM's NIC is plugged into, as lldpd announced it on the bridge.
    expect(network?.lldpNeighbour).toMatchObject({
      systemName: SWITCH.name,
      portId: "eth0",
      portDescription: SWITCH.port,
    });
    const log = await server.bootLog(ids.mac);
    const events = log.events.map((e) => `${e.source} ${e.event} ${e.detail}`);
    expect(events.some((e) => /^dhcp dhcp PXE\(br0\) 52:54:00:51:00:01 proxy/.test(e))).toBe(true);
    expect(events.some((e) => /^dhcp dhcp DHCPOFFER/.test(e))).toBe(false);
    expect(events).toContainEqual(expect.stringMatching(/^tftp tftp-sent ipxe\.efi: 850528 bytes/));
    expect(events).toContainEqual(
      expect.stringMatching(/^http boot-script GET \/boot\/52:54:00:51:00:01\.ipxe → loader \(pxe-uefi/),
    );
  });

  it("UEFI HTTP boot: the firmware fetches the loader UKI named in the proxy's answer, enrolls, installs, boots its disk", async () => {
    const ids = { mac: "52:54:00:51:00:02", uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005102" };
    // OVMF's IPv4 PXE off: it goes on to HTTP boot, asking as vendor class HTTPClient.
    const vm = startVm(site, "uefi-http", "uefi", { kind: "site", nic: "firmware", uefiPxe: false }, ids, {
      disksMiB: [256],
    });
    const machine = await enrolled(server, vm, ids.uuid);
    expect(machine.bootPath).toBe("uefi-http");
    expect(machine.inventory?.details?.bootPath).toBe("uefi-http");
    expect(machine.inventory?.details?.secureBoot).toBe(false);
    const events = (await server.bootLog(ids.mac)).events.map((e) => `${e.source} ${e.event} ${e.detail}`);
    expect(events).toContainEqual(expect.stringMatching(/^http uki GET \/boot\/bootwright\.efi/));
    expect(vm.console()).toMatch(/Start HTTP Boot over IPv4/);

    // Install on this path too: nothing answers "local disk" before the loader here, so the loader
    // points BootNext at the disk before it reboots, and the firmware boots the disk's shim once.
    await installAndCallHome(server, vm, ids.uuid);
    expect(vm.console()).toMatch(/next boot: the disk/);
  });

  it("BIOS: the iPXE ROM as PXE client gets /boot.ipxe and enrolls, though dnsmasq was SIGKILLed at power-on", async () => {
    const ids = { mac: "52:54:00:51:00:03", uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005103" };
    const before = await server.siteStatus();
    const pid = before.dnsmasq?.pid;
    if (!pid) throw new Error(`dnsmasq is not running: ${JSON.stringify(before)}`);
    const vm = startVm(site, "pxe-bios", "bios", { kind: "site", nic: "ipxe-rom" }, ids);
    process.kill(pid, "SIGKILL");
    const machine = await enrolled(server, vm, ids.uuid);
    expect(machine.bootPath).toBe("ipxe");
    const after = await server.siteStatus();
    expect(after.dnsmasq?.restarts).toBeGreaterThanOrEqual(1);
    expect(after.dnsmasq?.lastExit).toMatchObject({ signal: "SIGKILL" });
    expect(after.dnsmasq?.pid).not.toBe(pid);
    expect(readFileSync(server.logFile, "utf8")).toMatch(/"msg":"dnsmasq died"/);
  });
});

describe("an isolated network (a factory line): our server is its only DHCP server, with Secure Boot", () => {
  let site: SiteNetwork;
  let server: SiteServer;

  beforeAll(async () => {
    const tiny = await buildOsImage({ kind: "tiny" });
    site = new SiteNetwork({ name: "sb", prefix: "10.77.2", workDir: join(dir, "full-site") });
    sites.push(site);
    site.create();
    server = await SiteServer.start(site, {
      dataDir: join(dir, "full-server"),
      dhcp: "full",
      range: "10.77.2.100-10.77.2.150",
      uefiPxe: "shim",
    });
    servers.push(server);
    await server.addImage(tiny.paths.zst, "tiny");
    const policy = {
      rules: [
        {
          name: "secure-blades",
          match: [
            { fact: "secureBoot", equals: true },
            { fact: "bootPath", equals: "secure-boot" },
          ],
          plan: { image: "tiny" },
        },
      ],
    };
    const set = await server.request("PUT", "/v1/policy", { format: "json", source: JSON.stringify(policy) });
    expect(set.status).toBe(200);
  }, 120_000);

  it("Secure Boot: shim → signed GRUB → signed kernel → enrolled with secureBoot; installs tiny and boots it from disk through shim", async () => {
    const ids = { mac: "52:54:00:52:00:01", uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005201" };
    const vm = startVm(site, "secure-boot", "uefi-secure", { kind: "site", nic: "firmware" }, ids, {
      disksMiB: [256],
    });
    const machine = await enrolled(server, vm, ids.uuid);
    expect(machine.bootPath).toBe("secure-boot");
    expect(machine.inventory?.details?.secureBoot).toBe(true);
    // Our dnsmasq leased the address: full mode.
    expect(machine.inventory?.details?.network?.dhcpServer).toBe("10.77.2.1");
    expect(vm.console()).toMatch(/bootwright: loading the loader for 52:54:00:52:00:01 \(signed chain\)/);
    // Locked down by Secure Boot, the kernel loaded our (Debian-signed) modules: the NIC came up through them.
    expect(vm.console()).toMatch(/drivers loaded: .*\bvirtio_net\b/);

    // The disk boot goes through GRUB's local-disk answer, then shim and GRUB on the disk: the tiny OS.
    await installAndCallHome(server, vm, ids.uuid);
    const log = (await server.bootLog(ids.mac)).events.map((e) => `${e.source} ${e.event} ${e.detail}`);
    expect(log).toContainEqual(expect.stringMatching(/^tftp tftp-sent shimx64\.efi/));
    expect(log).toContainEqual(
      expect.stringMatching(/^tftp boot-script grub\.cfg → local-disk \(secure-boot/),
    );
  });
});
