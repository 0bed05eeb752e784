// A rack that boots through its relay (issue 25): a site network the test builds in namespaces (a bridge
// with a tap for the VM, the site's own DHCP server), the relay on the segment (Debian's nginx and
// dnsmasq on the files `bootwright relay config` wrote there), and the bootwright server on an uplink
// behind it that the segment cannot reach. One UEFI VM: firmware PXE → the relay's proxyDHCP → ipxe.efi
// from the relay's TFTP → /boot.ipxe, the loader's kernel and initramfs and every API call through the
// relay's nginx → enrolled in the server's store; the relay is listed by GET /v1/servers. Then it writes
// the tiny image to its disk, its agent and the image read through the relay's cache, reboots into it
// (UEFI BootNext on the disk) and the installed OS calls home through the relay.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { ServerList } from "../protocol/index.js";
import { readAccessLog } from "../server/relay/local-relay.js";
import { NGINX } from "../server/relay/relay-files.js";
import { chooseAccelerator } from "./accelerator.js";
import { REPO_ROOT, requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { SiteNetwork } from "./site-network.js";
import { SiteServer } from "./site-server.js";

const IDS = { mac: "52:54:00:53:00:01", uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005301" };
const RELAY_URL = "http://10.77.5.1:8080";

let dir: string;
let site: SiteNetwork | undefined;
let server: SiteServer | undefined;
let vm: Vm | undefined;
let relayDir: string;
let tinySha256: string;

/** Runs `bootwright relay config` inside the segment's namespace, where br0 is the relay's interface. */
function relayConfig(ns: string, serverUrl: string): void {
  const result = spawnSync(
    "ip",
    [
      ...["netns", "exec", ns, join(REPO_ROOT, "bin/bootwright"), "relay", "config"],
      ...["--server", serverUrl, "--interface", "br0", "--dir", relayDir, "--cache-size", "1g"],
      ...["--boot-files", join(REPO_ROOT, "build/boot-files")],
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (result.status !== 0) throw new Error(`bootwright relay config failed: ${result.stderr}`);
}

/** nginx writes its PID file once it listens; dnsmasq exits at once on a bad file or a taken port. */
async function waitForRelay(dnsmasqLog: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!existsSync(join(relayDir, "nginx.pid"))) {
    if (Date.now() > deadline) throw new Error(`the relay's nginx did not start: ${relayDir}/logs/error.log`);
    await delay(100);
  }
  await delay(1_000);
  if (!/started, version/.test(readFileSync(dnsmasqLog, "utf8")))
    throw new Error(`the relay's dnsmasq did not start: ${readFileSync(dnsmasqLog, "utf8")}`);
}

beforeAll(async () => {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  dir = mkdtempSync(join(tmpdir(), "bootwright-relay-boot-"));
  // nginx's workers (www-data) reach the relay's cache through it.
  chmodSync(dir, 0o755);
  relayDir = join(dir, "relay");
  site = new SiteNetwork({ name: "rl", prefix: "10.77.5", workDir: join(dir, "site") });
  site.create();
  site.startSiteDhcp();
  const uplink = site.addUplink("up", "10.78.5");
  server = await SiteServer.start(site, {
    dataDir: join(dir, "server"),
    dhcp: "off",
    namespace: uplink.namespace,
    address: uplink.far,
    kernelArgs: "bootwright.lldp-wait=0",
  });
  relayConfig(site.namespace, server.url);
  site.spawnIn(
    site.namespace,
    NGINX,
    ["-p", relayDir, "-c", join(relayDir, "nginx.conf"), "-g", "daemon off;"],
    join(dir, "nginx.log"),
  );
  const dnsmasqLog = join(dir, "relay-dnsmasq.log");
  site.spawnIn(
    site.namespace,
    "dnsmasq",
    [
      "--keep-in-foreground",
      `--conf-file=${join(relayDir, "dnsmasq.conf")}`,
      `--pid-file=${join(relayDir, "dnsmasq.pid")}`,
    ],
    dnsmasqLog,
  );
  await waitForRelay(dnsmasqLog);
  const tiny = await buildOsImage({ kind: "tiny" });
  await server.addImage(tiny.paths.zst, "tiny");
  const policy = {
    rules: [{ name: "rack", match: [{ fact: "product", equals: "RACK-1" }], plan: { image: "tiny" } }],
  };
  const set = await server.request("PUT", "/v1/policy", { format: "json", source: JSON.stringify(policy) });
  if (set.status !== 200) throw new Error(`policy refused: ${JSON.stringify(set.body)}`);
  tinySha256 = tiny.manifest.zstSha256;
  vm = Vm.start({
    name: "relay-pxe",
    workDir: join(dir, "vm"),
    accel,
    firmware: "uefi",
    boot: { kind: "site", nic: "firmware" },
    mac: IDS.mac,
    uuid: IDS.uuid,
    smbios: ["type=1,manufacturer=Acme,product=RACK-1,serial=SN-relay-pxe"],
    tap: site.addTap(),
    allowReboot: true,
    disksMiB: [256],
  });
}, 120_000);

afterAll(async () => {
  await vm?.stop();
  await server?.stop();
  await site?.destroy();
  if (dir && !process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

it("a machine that reaches only the relay netboots through it and enrolls; the relay served its boot files and is listed", async () => {
  if (!server || !vm) throw new Error("not started");
  const machine = await server
    .waitForMachine(IDS.uuid, (m) => m?.category === "inventoried", 240_000)
    .catch((err: unknown) => {
      throw new Error(`${String(err)}\n${vm?.describe() ?? ""}\nserver log: ${server?.logFile ?? ""}`);
    });
  expect(machine.inventory?.details?.network?.dhcpServer).toBe("10.77.5.2");

  // The relay's dnsmasq answered the PXE ROM and sent it iPXE over its own TFTP.
  const dnsmasq = readFileSync(join(dir, "relay-dnsmasq.log"), "utf8");
  expect(dnsmasq).toMatch(/PXE\(br0\) 52:54:00:53:00:01 proxy/);
  expect(dnsmasq).toMatch(/sent \S*ipxe\.efi to 10\.77\.5\.1\d\d/);
  // Its nginx served the boot script, the machine's script, the loader's files and the enrollment.
  const served = readAccessLog(relayDir)
    .filter((line) => line.status === 200)
    .map((line) => `${line.method} ${line.uri}`);
  for (const expected of [
    "GET /boot.ipxe",
    `GET /boot/${IDS.mac}.ipxe`,
    "GET /assets/vmlinuz",
    "GET /assets/initramfs.img",
    "POST /v1/inventory",
  ])
    expect(served).toContain(expected);
  // iPXE fetched its script from the relay: the server is not on the machine's network.
  expect(vm.console()).toContain(`${RELAY_URL}/boot.ipxe`);

  // The loader's credentialed calls through the relay are its heartbeat: the first is its `next` after
  // the inventory (a public call), which may come just after the machine showed up inventoried.
  let relays: ServerList["relays"] = [];
  for (const until = Date.now() + 60_000; relays.length === 0 && Date.now() < until;) {
    relays = ServerList.parse((await server.request("GET", "/v1/servers")).body).relays;
    if (relays.length === 0) await new Promise((done) => setTimeout(done, 500));
  }
  expect(relays).toEqual([expect.objectContaining({ url: RELAY_URL })]);
});

it("installs the tiny image read through the relay's cache, boots it, and the OS calls home through the relay", async () => {
  if (!server || !vm) throw new Error("not started");
  const expected = await server.request("PUT", `/v1/machines/${IDS.uuid}/expected`, {
    category: "installed",
  });
  expect(expected.status).toBe(200);
  // The loader writes the image, points UEFI's BootNext at the disk and reboots; the tiny OS then calls
  // home to the server it was installed from, which is the relay.
  await server
    .waitForMachine(IDS.uuid, (m) => m?.category === "installed" || m?.category === "failed", 240_000)
    .catch((err: unknown) => {
      throw new Error(`${String(err)}\n${vm?.describe() ?? ""}\nserver log: ${server?.logFile ?? ""}`);
    });
  expect((await server.machine(IDS.uuid))?.category).toBe("installed");
  expect(vm.console()).toMatch(/next boot: the disk/);
  const log = readAccessLog(relayDir);
  // Its tailored agent and the image's slices came across the uplink once (cache MISS) and on to the
  // machine through the relay.
  expect(log.some((line) => /^\/v1\/agents\/[0-9a-f]{64}\.mjs$/.test(line.uri) && line.status === 200)).toBe(
    true,
  );
  const blob = log.filter((line) => line.uri === `/v1/images/${tinySha256}/blob`);
  expect(blob.some((line) => line.cache === "MISS" && line.upstreamBytes > 0)).toBe(true);
  expect(blob.some((line) => line.status === 200 || line.status === 206)).toBe(true);
  // The installed OS's call home crossed the relay, not some other path to the server.
  expect(
    log.some(
      (line) =>
        line.method === "POST" && line.uri === `/v1/machines/${IDS.uuid}/callhome` && line.status === 200,
    ),
  ).toBe(true);
}, 300_000);
