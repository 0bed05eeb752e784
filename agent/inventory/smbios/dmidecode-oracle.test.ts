// Oracle: for every captured fixture (and a synthetic table with types 9 and 41, which QEMU never emits),
// our parser's fields equal what Debian's `dmidecode --from-dump` prints for the same bytes, field by
// field. dmidecode is required (build-scripts/setup.sh installs it): the test fails without it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseSmbios, toDumpBin, type Smbios } from "./index.js";
import { entryPoint3, slotsAndOnboardTable } from "./test-tables.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/smbios", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "bootwright-dmidecode-"));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface DmiRecord {
  handle: number;
  type: number;
  /** "Attribute: value" lines; list attributes (Characteristics:) hold their indented items. */
  fields: Map<string, string>;
  lists: Map<string, string[]>;
}

/** Parses `dmidecode` output: "Handle 0x0100, DMI type 1, 27 bytes", a title, then tab-indented fields. */
function parseDmidecode(text: string): DmiRecord[] {
  const records: DmiRecord[] = [];
  let current: DmiRecord | undefined;
  let list: string | undefined;
  for (const line of text.split("\n")) {
    const handle = /^Handle 0x([0-9A-F]{4}), DMI type (\d+),/.exec(line);
    if (handle?.[1] && handle[2]) {
      current = {
        handle: parseInt(handle[1], 16),
        type: Number(handle[2]),
        fields: new Map(),
        lists: new Map(),
      };
      records.push(current);
      continue;
    }
    if (!current) continue;
    if (line.startsWith("\t\t") && list) current.lists.get(list)?.push(line.slice(2));
    else if (line.startsWith("\t")) {
      const colon = line.indexOf(":");
      const key = line.slice(1, colon);
      const value = line.slice(colon + 1).trim();
      current.fields.set(key, value);
      list = value === "" ? key : undefined;
      if (list) current.lists.set(list, []);
    }
  }
  return records;
}

function dmidecode(entryPoint: Uint8Array, table: Uint8Array, name: string): DmiRecord[] {
  const file = join(work, `${name}.bin`);
  writeFileSync(file, toDumpBin(entryPoint, table));
  return parseDmidecode(execFileSync("dmidecode", ["--from-dump", file], { encoding: "utf8" }));
}

/** dmidecode's dmi_print_memory_size: the largest 1024-unit whose two top 10-bit chunks hold the value. */
function size(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
  const split: number[] = [];
  let rest = bytes;
  for (let i = 0; i < 7; i++) {
    split.push(rest % 1024);
    rest = Math.floor(rest / 1024);
  }
  let i = 6;
  while (i > 0 && !split[i]) i--;
  if (i > 0 && split[i - 1]) return `${(split[i - 1] ?? 0) + (split[i] ?? 0) * 1024} ${units[i - 1] ?? ""}`;
  return `${split[i] ?? 0} ${units[i] ?? ""}`;
}

const s = (v: string | null): string => v ?? "Not Specified";
const orUnknown = (v: number | null, unit: string): string => (v === null ? "Unknown" : `${v} ${unit}`);
const hex4 = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(4, "0")}`;

/** What dmidecode prints for each structure we decode, from our parser's output. */
function expectedFields(parsed: Smbios): Map<number, Record<string, string>> {
  const out = new Map<number, Record<string, string>>();
  const bios = parsed.bios;
  const biosHandle = parsed.structures.find((x) => x.type === 0)?.handle;
  if (bios && biosHandle !== undefined) {
    out.set(biosHandle, {
      Vendor: s(bios.vendor),
      Version: s(bios.version),
      "Release Date": s(bios.releaseDate),
      Address: `0x${bios.startingSegment.toString(16).toUpperCase().padStart(4, "0")}0`,
      "ROM Size": bios.romSizeBytes === null ? "Unknown" : size(bios.romSizeBytes),
      ...(bios.biosRevision ? { "BIOS Revision": bios.biosRevision } : {}),
      ...(bios.firmwareRevision ? { "Firmware Revision": bios.firmwareRevision } : {}),
    });
  }
  const sys = parsed.system;
  const sysHandle = parsed.structures.find((x) => x.type === 1)?.handle;
  if (sys && sysHandle !== undefined) {
    out.set(sysHandle, {
      Manufacturer: s(sys.manufacturer),
      "Product Name": s(sys.product),
      Version: s(sys.version),
      "Serial Number": s(sys.serial),
      ...(sys.uuid ? { UUID: sys.uuid } : {}),
      ...(sys.wakeUpType ? { "Wake-up Type": sys.wakeUpType } : {}),
      ...(sys.sku || sys.family ? { "SKU Number": s(sys.sku), Family: s(sys.family) } : {}),
    });
  }
  for (const b of parsed.baseboards) {
    out.set(b.handle, {
      Manufacturer: s(b.manufacturer),
      "Product Name": s(b.product),
      Version: s(b.version),
      "Serial Number": s(b.serial),
      "Asset Tag": s(b.assetTag),
      ...(b.chassisHandle === null
        ? {}
        : {
            "Location In Chassis": s(b.locationInChassis),
            "Chassis Handle": hex4(b.chassisHandle),
            Type: b.boardType ?? "<OUT OF SPEC>",
          }),
    });
  }
  for (const c of parsed.chassis) {
    out.set(c.handle, {
      Manufacturer: s(c.manufacturer),
      Type: c.type ?? "<OUT OF SPEC>",
      Lock: c.lock ? "Present" : "Not Present",
      Version: s(c.version),
      "Serial Number": s(c.serial),
      "Asset Tag": s(c.assetTag),
      "Boot-up State": c.bootUpState ?? "<OUT OF SPEC>",
      "Power Supply State": c.powerSupplyState ?? "<OUT OF SPEC>",
      "Thermal State": c.thermalState ?? "<OUT OF SPEC>",
      "Security Status": c.securityStatus ?? "<OUT OF SPEC>",
      Height: c.heightU === null ? "Unspecified" : `${c.heightU} U`,
      ...(c.sku === null ? {} : { "SKU Number": c.sku }),
    });
  }
  for (const p of parsed.processors) {
    out.set(p.handle, {
      "Socket Designation": s(p.socket),
      Type: p.type ?? "<OUT OF SPEC>",
      Manufacturer: s(p.manufacturer),
      ID: p.id,
      Version: s(p.version),
      "External Clock": orUnknown(p.externalClockMhz, "MHz"),
      "Max Speed": orUnknown(p.maxSpeedMhz, "MHz"),
      "Current Speed": orUnknown(p.currentSpeedMhz, "MHz"),
      Status: p.populated ? `Populated, ${p.status ?? "<OUT OF SPEC>"}` : "Unpopulated",
      "Serial Number": s(p.serial),
      "Asset Tag": s(p.assetTag),
      "Part Number": s(p.partNumber),
      ...(p.coreCount === null ? {} : { "Core Count": String(p.coreCount) }),
      ...(p.coreEnabled === null ? {} : { "Core Enabled": String(p.coreEnabled) }),
      ...(p.threadCount === null ? {} : { "Thread Count": String(p.threadCount) }),
    });
  }
  for (const slot of parsed.slots) {
    out.set(slot.handle, {
      Designation: s(slot.designation),
      "Current Usage": slot.currentUsage ?? "<OUT OF SPEC>",
      ID: String(slot.slotId),
      ...(slot.busAddress ? { "Bus Address": slot.busAddress } : {}),
    });
  }
  const oemHandle = parsed.structures.find((x) => x.type === 11)?.handle;
  if (oemHandle !== undefined)
    out.set(oemHandle, Object.fromEntries(parsed.oemStrings.map((v, i) => [`String ${i + 1}`, v])));
  for (const a of parsed.memoryArrays) {
    out.set(a.handle, {
      Location: a.location ?? "<OUT OF SPEC>",
      Use: a.use ?? "<OUT OF SPEC>",
      "Error Correction Type": a.errorCorrection ?? "<OUT OF SPEC>",
      "Maximum Capacity": a.maxCapacityBytes === null ? "Unknown" : size(a.maxCapacityBytes),
      "Number Of Devices": String(a.deviceCount),
    });
  }
  for (const m of parsed.memoryDevices) {
    out.set(m.handle, {
      "Array Handle": hex4(m.arrayHandle),
      "Total Width": orUnknown(m.totalWidth, "bits"),
      "Data Width": orUnknown(m.dataWidth, "bits"),
      Size: m.sizeBytes === null ? "Unknown" : m.sizeBytes === 0 ? "No Module Installed" : size(m.sizeBytes),
      "Form Factor": m.formFactor ?? "<OUT OF SPEC>",
      Locator: s(m.locator),
      "Bank Locator": s(m.bankLocator),
      Type: m.type ?? "<OUT OF SPEC>",
      Speed: orUnknown(m.speedMts, "MT/s"),
      Manufacturer: s(m.manufacturer),
      "Serial Number": s(m.serial),
      "Asset Tag": s(m.assetTag),
      "Part Number": s(m.partNumber),
      Rank: m.rank === null ? "Unknown" : String(m.rank),
      "Configured Memory Speed": orUnknown(m.configuredSpeedMts, "MT/s"),
    });
  }
  for (const d of parsed.onboardDevices) {
    out.set(d.handle, {
      "Reference Designation": s(d.referenceDesignation),
      Type: d.type ?? "<OUT OF SPEC>",
      Status: d.enabled ? "Enabled" : "Disabled",
      "Type Instance": String(d.typeInstance),
      ...(d.busAddress ? { "Bus Address": d.busAddress } : {}),
    });
  }
  return out;
}

/** Characteristics dmidecode prints as list items, checked against our booleans. */
function expectedListItems(parsed: Smbios): Map<number, Record<string, [string, boolean]>> {
  const out = new Map<number, Record<string, [string, boolean]>>();
  const biosHandle = parsed.structures.find((x) => x.type === 0)?.handle;
  if (parsed.bios && biosHandle !== undefined)
    out.set(biosHandle, {
      uefi: ["UEFI is supported", parsed.bios.uefiSupported],
      vm: ["System is a virtual machine", parsed.bios.virtualMachine],
    });
  for (const b of parsed.baseboards)
    out.set(b.handle, { hosting: ["Board is a hosting board", b.hostingBoard] });
  return out;
}

const DECODED_TYPES = new Set([0, 1, 2, 3, 4, 9, 11, 16, 17, 41]);

function checkAgainstDmidecode(entryPoint: Uint8Array, table: Uint8Array, name: string): number {
  const parsed = parseSmbios(entryPoint, table);
  if (!parsed.ok)
    throw new Error(`${name}: ${parsed.error.code} at ${parsed.error.offset}: ${parsed.error.message}`);
  const records = dmidecode(entryPoint, table, name);
  // Same structures, same order.
  expect(records.map((r) => [r.handle, r.type])).toEqual(
    parsed.value.structures.map((x) => [x.handle, x.type]),
  );
  const expected = expectedFields(parsed.value);
  const lists = expectedListItems(parsed.value);
  let compared = 0;
  for (const record of records.filter((r) => DECODED_TYPES.has(r.type))) {
    const fields = expected.get(record.handle);
    expect(fields, `${name}: handle ${hex4(record.handle)} type ${record.type} decoded`).toBeDefined();
    for (const [key, value] of Object.entries(fields ?? {})) {
      expect({ handle: hex4(record.handle), key, value: record.fields.get(key) }).toEqual({
        handle: hex4(record.handle),
        key,
        value,
      });
      compared++;
    }
    for (const [label, present] of Object.values(lists.get(record.handle) ?? {})) {
      const items = [...record.lists.values()].flat();
      expect({ handle: hex4(record.handle), label, present: items.includes(label) }).toEqual({
        handle: hex4(record.handle),
        label,
        present,
      });
      compared++;
    }
  }
  return compared;
}

const fixtureNames = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

describe("parseSmbios against dmidecode --from-dump", () => {
  it("has dmidecode installed (build-scripts/setup.sh installs it)", () => {
    expect(() => execFileSync("dmidecode", ["--version"], { encoding: "utf8" })).not.toThrow();
  });

  it("has fixtures to compare", () => {
    expect(fixtureNames.length).toBeGreaterThanOrEqual(5);
  });

  it.each(fixtureNames)("fixture %s: every field of every decoded type matches", (name) => {
    const dir = join(FIXTURES, name);
    const compared = checkAgainstDmidecode(
      readFileSync(join(dir, "smbios_entry_point")),
      readFileSync(join(dir, "DMI")),
      name,
    );
    expect(compared).toBeGreaterThan(40);
  });

  it("synthetic table with system slots (9) and onboard devices (41) matches", () => {
    const table = slotsAndOnboardTable();
    const compared = checkAgainstDmidecode(entryPoint3(table.length, 3, 2), table, "slots-onboard");
    expect(compared).toBeGreaterThanOrEqual(16);
  });
});
