// Drivers on demand against Debian's real kernel tree (build/kernel, fetched by build-scripts/setup.sh):
// modalias matching through the real modules.alias, dependencies, firmware from modinfo, the bundle, and
// the HTTP routes of a real server.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decompress } from "zstd-napi";
import { extract } from "tar-stream";
import { DriversAnswer, MachineDrivers } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import { inventoryFor, jsonRequest, startApiServer } from "../test-support.js";
import { DriverLibrary } from "./driver-library.js";
import { moduleFirmware } from "./modinfo.js";
import { modulesFor, parseModulesAlias } from "./modules-alias.js";

const BUILD = resolve(import.meta.dirname, "../../build");
const KERNEL = readFileSync(join(BUILD, "kernel/VERSION"), "utf8").trim();
const MODULES = join(BUILD, "kernel/lib/modules");
const FIRMWARE = join(BUILD, "firmware/lib/firmware");
/** QEMU's megasas (LSI MegaRAID SAS 1078), as /sys/bus/pci/devices/*\/modalias reads in the VM. */
const MEGASAS = "pci:v00001000d00000060sv00001000sd00001013bc01sc04i00";
/** QEMU's mptsas1068 (LSI SAS1068). */
const MPTSAS = "pci:v00001000d00000054sv00001000sd00008000bc01sc00i00";
/** A vendor/device pair nothing in Debian's kernel claims. */
const NOBODY = "pci:v0000FFFEd0000ABCDsv00000000sd00000000bcFFsc00i00";

describe("modules.alias (the real one)", () => {
  const aliases = parseModulesAlias(readFileSync(join(MODULES, KERNEL, "modules.alias"), "utf8"));

  it("matches a device by its vendor and device id, whatever the subsystem and class", () => {
    expect(modulesFor(aliases, MEGASAS)).toEqual(["megaraid_sas"]);
    expect(modulesFor(aliases, MPTSAS)).toEqual(["mptsas"]);
  });

  it("gives every candidate when more than one module claims a device", () => {
    // An Intel AHCI controller: ahci by its id, and generic drivers by its class (bc01sc06i01).
    const candidates = modulesFor(aliases, "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01");
    expect(candidates).toContain("ahci");
    expect(candidates.length).toBeGreaterThanOrEqual(1);
    // 8139cp and 8139too both claim the RTL8139 (10ec:8139): the kernel binds the one whose probe takes it.
    expect(modulesFor(aliases, "pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00").sort()).toEqual([
      "8139cp",
      "8139too",
    ]);
  });

  it("gives nothing for an alias no module claims", () => {
    expect(modulesFor(aliases, NOBODY)).toEqual([]);
  });

  it("honours glob sets ([0-2]) as kmod does", () => {
    const set = parseModulesAlias("alias usb:v13FDp3940d0[0-2]*dc* uas\n");
    expect(modulesFor(set, "usb:v13FDp3940d01xxdc00")).toEqual(["uas"]);
    expect(modulesFor(set, "usb:v13FDp3940d05xxdc00")).toEqual([]);
  });
});

describe("modinfo", () => {
  it("reads the firmware a module asks for from its .modinfo section", () => {
    const bnx2 = readFileSync(join(MODULES, KERNEL, "kernel/drivers/net/ethernet/broadcom/bnx2.ko"));
    expect(moduleFirmware(bnx2)).toContain("bnx2/bnx2-mips-09-6.2.1b.fw");
    expect(moduleFirmware(Buffer.from("not an ELF file"))).toEqual([]);
  });
});

describe("DriverLibrary", () => {
  let dir: string;
  let library: DriverLibrary;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "bootwright-drivers-"));
    library = new DriverLibrary({
      modulesDir: MODULES,
      firmwareDir: FIRMWARE,
      bundlesDir: join(dir, "bundles"),
    });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers the modules with their dependencies first, and one bundle carrying them, by sha256", async () => {
    const answer = await library.resolve({ kernel: KERNEL, modaliases: [MEGASAS, NOBODY] });
    expect(answer.devices).toEqual([
      { modalias: MEGASAS, modules: ["megaraid_sas"] },
      { modalias: NOBODY, modules: [] },
    ]);
    const names = answer.modules.map((m) => m.name);
    expect(names[names.length - 1]).toBe("megaraid_sas");
    expect(names).toContain("scsi_mod"); // modules.dep: megaraid_sas needs the SCSI core first
    expect(names.indexOf("scsi_mod")).toBeLessThan(names.indexOf("megaraid_sas"));
    const file = library.bundleFile(answer.bundle?.sha256 ?? "");
    expect(file).not.toBeNull();
    const bytes = readFileSync(file ?? "");
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(answer.bundle?.sha256);
    const entries = await tarNames(decompress(bytes));
    expect(entries).toContain(
      `lib/modules/${KERNEL}/${answer.modules[answer.modules.length - 1]?.path ?? ""}`,
    );
    // The same question again: the same bundle (reproducible, and kept).
    const again = await new DriverLibrary({
      modulesDir: MODULES,
      firmwareDir: FIRMWARE,
      bundlesDir: join(dir, "bundles"),
    }).resolve({ kernel: KERNEL, modaliases: [NOBODY, MEGASAS] });
    expect(again.bundle?.sha256).toBe(answer.bundle?.sha256);
  });

  it("sends the firmware a module asks for, with it", async () => {
    // QLogic FastLinQ (qede → qed): qed asks for its init-values firmware.
    const answer = await library.resolve({
      kernel: KERNEL,
      modaliases: ["pci:v00001077d00001656sv00000000sd00000000bc02sc00i00"],
    });
    expect(answer.modules.map((m) => m.name)).toEqual(expect.arrayContaining(["qed", "qede"]));
    expect(answer.firmware).toEqual(expect.arrayContaining([expect.stringMatching(/^qed\/qed_init_values/)]));
    const entries = await tarNames(
      decompress(readFileSync(library.bundleFile(answer.bundle?.sha256 ?? "") ?? "")),
    );
    expect(entries.filter((name) => name.startsWith("lib/firmware/qed/"))).toHaveLength(1);
  });

  it("no bundle when nothing claims any device, and a clear refusal for a kernel it has no tree for", async () => {
    expect((await library.resolve({ kernel: KERNEL, modaliases: [NOBODY] })).bundle).toBeNull();
    await expect(library.resolve({ kernel: "5.10.0-99-amd64", modaliases: [MEGASAS] })).rejects.toMatchObject(
      {
        code: "kernel_unknown",
      },
    );
    expect(library.bundleFile("../../etc/passwd")).toBeNull();
  });
});

describe("the routes", () => {
  let dir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bootwright-driver-routes-"));
    server = await startApiServer(dir, { modulesPath: MODULES, firmwarePath: FIRMWARE });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("POST /v1/drivers needs no credential (the loader asks before it enrolls) and checks what it is sent", async () => {
    const answer = await jsonRequest(
      `${server.url}/v1/drivers`,
      "POST",
      { kernel: KERNEL, modaliases: [MPTSAS] },
      null,
    );
    expect(answer.status).toBe(200);
    const parsed = DriversAnswer.parse(answer.body);
    expect(parsed.modules.map((m) => m.name)).toContain("mptsas");
    const bundle = await fetch(`${server.url}${parsed.bundle?.path ?? ""}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("cache-control")).toContain("immutable");
    expect(
      createHash("sha256")
        .update(Buffer.from(await bundle.arrayBuffer()))
        .digest("hex"),
    ).toBe(parsed.bundle?.sha256);

    const bad = await jsonRequest(
      `${server.url}/v1/drivers`,
      "POST",
      { kernel: KERNEL, modaliases: ["pci:../../x"] },
      null,
    );
    expect(bad.status).toBe(422);
    const unknown = await jsonRequest(
      `${server.url}/v1/drivers`,
      "POST",
      { kernel: "4.19.0-1-amd64", modaliases: [MPTSAS] },
      null,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: "kernel_unknown", details: { kernel: "4.19.0-1-amd64" } });
    expect((await fetch(`${server.url}/v1/drivers/bundles/${"0".repeat(64)}`)).status).toBe(404);
  });

  it("the loader's report: failures and unclaimed devices in the step log, reasons per device, the difference list", async () => {
    const mac = "52:54:00:d7:aa:01";
    const raid = { address: "0000:00:05.0", vendorId: "0x1000", deviceId: "0x0060", classCode: "0x010400" };
    const nic = { address: "0000:00:03.0", vendorId: "0x10ec", deviceId: "0x8139", classCode: "0x020000" };
    const inventory = {
      ...inventoryFor(mac, {
        product: "DRV",
        serial: "DRV-R1",
        uuid: "0e0c8a6a-6f5f-4c43-9d57-00000000d7aa",
      }),
      details: {
        firmwareType: "bios" as const,
        smbios: null,
        smbiosError: null,
        cpu: { vendor: "GenuineIntel", sockets: 1, cores: 1, threads: 1, flags: [] },
        memory: { totalBytes: 2 ** 30, installedBytes: null },
        nics: [],
        disks: [],
        storageControllers: [],
        network: null,
        pciDevices: [
          { ...nic, modalias: "", driver: "8139too", module: "8139too", source: "initramfs" as const },
          { ...raid, modalias: MEGASAS, driver: null, module: null, source: null },
          {
            ...raid,
            address: "0000:00:06.0",
            modalias: NOBODY,
            classCode: "0x010700",
            driver: null,
            module: null,
            source: null,
          },
          // QEMU's PIIX4 ACPI function: a chipset bridge the loader does not ask a driver for.
          {
            address: "0000:00:01.3",
            vendorId: "0x8086",
            deviceId: "0x7113",
            classCode: "0x068000",
            modalias: "pci:v00008086d00007113sv00001AF4sd00001100bc06sc80i00",
            driver: null,
            module: null,
            source: null,
          },
        ],
        drivers: {
          kernel: KERNEL,
          asked: [
            { modalias: MEGASAS, modules: ["megaraid_sas"] },
            { modalias: NOBODY, modules: [] },
          ],
          bundleSha256: "a".repeat(64),
          loaded: ["scsi_common", "scsi_mod"],
          failures: [
            { module: "megaraid_sas", message: "insmod: can't insert 'megaraid_sas.ko': Invalid argument" },
          ],
          error: null,
          elapsedMs: 850,
        },
      },
    };
    const posted = await jsonRequest(`${server.url}/v1/inventory`, "POST", inventory, null);
    expect(posted.status).toBe(200);
    const id = (posted.body as { machineId: string }).machineId;
    const log = (await jsonRequest(`${server.url}/v1/machines/${id}/log`, "GET")).body as {
      entries: { event: string; data: Record<string, unknown> }[];
    };
    expect(log.entries.find((e) => e.event === "drivers-loaded")?.data).toMatchObject({
      modules: ["scsi_common", "scsi_mod"],
      ms: 850,
    });
    const failed = log.entries.find((e) => e.event === "driver-load-failed")?.data;
    expect(failed?.module).toBe("megaraid_sas");
    expect(String(failed?.reason)).toContain("Invalid argument");
    expect(log.entries.find((e) => e.event === "drivers-unclaimed")?.data).toMatchObject({
      modaliases: [NOBODY],
    });

    const drivers = MachineDrivers.parse(
      (await jsonRequest(`${server.url}/v1/machines/${id}/drivers`, "GET")).body,
    );
    expect(drivers.devices.map((d) => [d.kind, d.module, d.reason?.split(":")[0] ?? null])).toEqual([
      ["network", "8139too", null],
      ["storage", null, "megaraid_sas failed to load"],
      ["storage", null, `no module of kernel ${KERNEL} claims pci`],
      ["bridge", null, "the loader leaves display, multimedia, bridge and SMBus devices without a driver"],
    ]);
    const differences = (await jsonRequest(`${server.url}/v1/differences`, "GET")).body as {
      drivers: { machineId: string; devices: { address: string }[] }[];
    };
    expect(differences.drivers).toEqual([
      expect.objectContaining({
        machineId: id,
        devices: [
          expect.objectContaining({ address: "0000:00:05.0" }),
          expect.objectContaining({ address: "0000:00:06.0" }),
        ],
      }),
    ]);
  });
});

async function tarNames(tar: Buffer): Promise<string[]> {
  const names: string[] = [];
  const parser = extract();
  parser.on("entry", (header, stream, next) => {
    names.push(header.name);
    stream.on("end", next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    parser.on("finish", resolve);
    parser.on("error", reject);
  });
  parser.end(tar);
  await done;
  return names;
}
