// The factory line (issue 22) on real VMs: `bootwright factory` as the only DHCP server of an isolated
// namespace network (test-vm/site-network.ts), three units booted side by side through the station's
// stages (inventory check, burn-in with the diagnostic image, install of the tiny image, the installed
// OS calling home, power-off through QMP). One unit's serial carries a burn-in threshold it cannot meet:
// it fails at burn-in with its figure, its console says so, and its disk never gets the image; the
// other two pass, with the image read back from their disks. The station is restarted mid-shift: every
// traveler is still there, once, with no stage run twice.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildMaintenanceImage } from "../build-scripts/build-maintenance-image.js";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { StationState, Traveler, TravelerList } from "../protocol/index.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { readBytes } from "./disk-bytes.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { SiteNetwork } from "./site-network.js";
import { SiteServer } from "./site-server.js";

const UNITS = [
  {
    name: "fac-1",
    serial: "FAC-0001",
    mac: "52:54:00:53:00:01",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005301",
  },
  {
    name: "fac-2",
    serial: "FAC-0002",
    mac: "52:54:00:53:00:02",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005302",
  },
  {
    name: "fac-bad",
    serial: "FAC-0666",
    mac: "52:54:00:53:00:03",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-000000005303",
  },
] as const;
const BAD = UNITS[2];
/** The per-unit override: no memory writes 10^9 MB/s. */
const IMPOSSIBLE_MBS = 1e9;

const STATION = `# A station as a line's engineer writes it (short burn-in: tests use seconds)
name: line-1
image: tiny
inventory:
  product: "FAC-1U*"
  diskCount: 1
  minMemoryMiB: 400
burnIn:
  image: diagnostic
  timeoutMinutes: 10
  steps:
    - { name: cpu-benchmark, params: { seconds: 1 } }
    - { name: memory-test, params: { mib: 8 } }
    - { name: disk-read, params: { mib: 4, samples: 16 } }
    - { name: smart }
  thresholds:
    - { step: cpu-benchmark, figure: sha256MBs, min: 1 }
    - { step: memory-test, figure: mismatches, max: 0 }
    - { step: disk-read, figure: "disks.*.readErrors", max: 0 }
    - { step: smart, figure: failing, max: 0, required: false }
    - { step: memory-test, figure: writeMBs, min: ${IMPOSSIBLE_MBS}, serial: "${BAD.serial}" }
`;

let accel: Accelerator;
let dir: string;
let site: SiteNetwork | undefined;
let server: SiteServer | undefined;
const vms = new Map<string, Vm>();

function live(): SiteServer {
  if (!server) throw new Error("the station server did not start");
  return server;
}

async function travelers(): Promise<Traveler[]> {
  return TravelerList.parse((await live().request("GET", "/v1/factory/travelers")).body).travelers;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A request cut by the station's restart is asked again at the next poll.
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      for (const vm of vms.values()) console.log(`[${vm.name}]\n${vm.describe()}`);
      throw new Error(
        `no ${what} in ${timeoutMs} ms; travelers: ${JSON.stringify(await travelers()).slice(0, 3000)}`,
      );
    }
    await new Promise((done) => setTimeout(done, 500));
  }
}

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  const [tiny, diagnostic] = await Promise.all([
    buildOsImage({ kind: "tiny" }),
    buildMaintenanceImage({ kind: "diagnostic" }),
  ]);
  dir = mkdtempSync(join(tmpdir(), "bootwright-factory-"));
  const stationFile = join(dir, "station.yaml");
  writeFileSync(stationFile, STATION);
  site = new SiteNetwork({ name: "fac", prefix: "10.77.3", workDir: join(dir, "site") }).create();
  server = await SiteServer.start(site, {
    dataDir: join(dir, "server"),
    dhcp: "full",
    range: "10.77.3.100-10.77.3.150",
    station: stationFile,
    // No switch on this line: no LLDP neighbour to wait for.
    kernelArgs: "bootwright.lldp-wait=0",
  });
  await server.addImage(tiny.paths.zst, "tiny");
  await server.addImage(diagnostic.path, "diagnostic", { format: "tar.zst", purpose: "diagnostic" });
}, 20 * 60_000);

afterAll(async () => {
  await Promise.all([...vms.values()].map((vm) => vm.stop()));
  await server?.stop();
  await site?.destroy();
  if (dir && !process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

it(
  "three units through the station at once: two pass with their image read back, one fails burn-in with its figure and never gets the image; a restart mid-shift loses and duplicates nothing",
  async () => {
    const station = StationState.parse((await live().request("GET", "/v1/factory/station")).body);
    expect(station.stored?.station).toMatchObject({ name: "line-1", image: "tiny" });
    const network = site;
    if (!network) throw new Error("no site network");
    for (const unit of UNITS) {
      const workDir = join(dir, unit.name);
      vms.set(
        unit.name,
        Vm.start({
          name: unit.name,
          workDir,
          accel,
          firmware: "bios",
          boot: { kind: "site", nic: "ipxe-rom" },
          mac: unit.mac,
          uuid: unit.uuid,
          smbios: [`type=1,manufacturer=Acme,product=FAC-1U,serial=${unit.serial}`],
          tap: network.addTap(),
          disksMiB: [128],
          memoryMiB: 768,
          allowReboot: true,
          // The line's power control: the server powers a unit off through it once it passed.
          extraArgs: ["-qmp", `unix:${join(workDir, "qmp.sock")},server=on,wait=off`],
        }),
      );
    }
    // Each unit's power driver, once it is known (long before its install ends).
    for (const unit of UNITS) {
      await live().waitForMachine(unit.uuid, (m) => m !== undefined, 240_000);
      const put = await live().request("PUT", `/v1/machines/${unit.uuid}/power`, {
        driver: "qmp",
        socket: join(dir, unit.name, "qmp.sock"),
      });
      expect(put.status).toBe(200);
    }

    // Mid-shift: every unit is past its inventory check; the station restarts under them.
    await waitFor("three travelers past inventory", 240_000, async () => {
      const all = await travelers();
      return all.length === 3 && all.every((t) => t.stages.some((s) => s.stage === "burn-in"))
        ? all
        : undefined;
    });
    await live().restart();

    const done = await waitFor("three finished travelers", 420_000, async () => {
      const all = await travelers();
      const finished = all.filter(
        (t) => t.state === "failed" || (t.state === "passed" && t.stages.at(-1)?.result !== "running"),
      );
      return finished.length === 3 ? all : undefined;
    });
    // Lost nothing, duplicated nothing: one traveler per serial, each stage run once.
    expect(done.map((t) => t.serial).sort()).toEqual(UNITS.map((u) => u.serial).sort());
    for (const traveler of done)
      expect(
        traveler.stages.every((s) => s.attempt === 1),
        JSON.stringify(traveler.stages),
      ).toBe(true);

    const bySerial = new Map(done.map((t) => [t.serial, t]));
    const bad = bySerial.get(BAD.serial);
    expect(bad).toMatchObject({ state: "failed", stage: "burn-in", image: null });
    const burnIn = bad?.stages.find((s) => s.stage === "burn-in");
    expect(burnIn?.reason).toMatch(new RegExp(`memory-test\\.writeMBs [\\d.]+ below min ${IMPOSSIBLE_MBS}`));
    expect(burnIn?.figures).toHaveProperty("memory-test.writeMBs");
    // Its console says where it stopped and why; its machine shows failed.
    await vms
      .get(BAD.name)
      ?.waitForConsole(/factory: unit FAC-0666 FAILED at burn-in: memory-test\.writeMBs/, 30_000);
    expect((await live().machine(BAD.uuid))?.category).toBe("failed");

    for (const unit of UNITS.filter((u) => u !== BAD)) {
      const traveler = bySerial.get(unit.serial);
      expect(traveler?.state).toBe("passed");
      expect(traveler?.stages.map((s) => [s.stage, s.result])).toEqual([
        ["inventory", "passed"],
        ["burn-in", "passed"],
        ["install", "passed"],
        ["verification", "passed"],
        ["power-off", "passed"],
      ]);
      expect(traveler?.image).toMatchObject({ name: "tiny", readBackMatches: true });
      expect(traveler?.image?.readBackSha256).toBe(traveler?.image?.rawSha256);
      expect(traveler?.stages.at(-1)?.figures).toMatchObject({ via: "qmp" });
    }

    // Only the two that passed got the image: a protective MBR on their disks, zeros on the failed one's.
    for (const unit of UNITS) {
      const disk = join(dir, unit.name, "disk0.img");
      const head = readBytes(disk, 0, 1024 * 1024);
      if (unit === BAD) expect(head.every((byte) => byte === 0)).toBe(true);
      else expect(head.readUInt16LE(510)).toBe(0xaa55);
    }

    // The reports: OCP Test & Validation JSON Lines and the printable page.
    const ocp = await live().request("GET", `/v1/factory/travelers/${BAD.serial}/ocp`);
    expect(ocp.status).toBe(200);
    const lines = String(ocp.body)
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ schemaVersion: { major: 2, minor: 0 }, sequenceNumber: 0 });
    expect(lines.at(-1)).toMatchObject({
      testRunArtifact: { testRunEnd: { status: "COMPLETE", result: "FAIL" } },
    });
    const html = await live().request("GET", `/v1/factory/travelers/${UNITS[0].serial}/html`);
    expect(String(html.body)).toMatch(/<p class="verdict passed">PASSED<\/p>/);
    const failedOnly = TravelerList.parse(
      (await live().request("GET", "/v1/factory/travelers?failed=true")).body,
    );
    expect(failedOnly.travelers.map((t) => t.serial)).toEqual([BAD.serial]);
    const line = (await live().request("GET", "/v1/factory/line")).body;
    expect(line).toMatchObject({ station: "line-1", passed: 2, failed: 1 });
  },
  30 * 60_000,
);
