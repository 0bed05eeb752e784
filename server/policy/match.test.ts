// The matcher: every operator, list facts (any element), sizes, missing facts, and the computed facts on
// inventories built from the captured SMBIOS tables.
import { describe, expect, it } from "vitest";
import { Condition, type Inventory } from "../../protocol/index.js";
import { computeFact } from "../../protocol/policy/facts.js";
import { compileCondition, FactTable, globToRegExp } from "../../protocol/policy/match.js";
import { fixtureInventory } from "./test-fixtures.js";

const blade = fixtureInventory("bios-full-2nic-nvme");
const defaults = fixtureInventory("bios-defaults");
const q35 = fixtureInventory("q35-smbios3");
const uefi = fixtureInventory("uefi-ovmf");
const bigMemory = fixtureInventory("bios-big-memory");

function holds(inventory: Inventory, raw: unknown): boolean {
  const table = new FactTable();
  return compileCondition(Condition.parse(raw), table).holds(table.factsOf(inventory));
}

describe("computed facts on the captured machines", () => {
  it("reads the blade's slot, role, firmware, disks and NICs", () => {
    expect(computeFact(blade, "product")).toBe("X1 Blade");
    expect(computeFact(blade, "bladeSlot")).toBe("Slot 7");
    expect(computeFact(blade, "role")).toBe("compute"); // OEM string "bootwright:role=compute"
    expect(computeFact(blade, "firmwareType")).toBe("bios");
    expect(computeFact(blade, "diskCount")).toBe(2);
    expect(computeFact(blade, "totalDiskBytes")).toBe(24 * 2 ** 30);
    expect(computeFact(blade, "largestDiskBytes")).toBe(16 * 2 ** 30);
    expect(computeFact(blade, "smallestDiskBytes")).toBe(8 * 2 ** 30);
    expect(computeFact(blade, "diskKinds")).toEqual(["virtual", "nvme"]);
    expect(computeFact(blade, "nicDrivers")).toEqual(["virtio_net", "e1000"]);
    expect(computeFact(blade, "nicOuis")).toEqual(["52:54:00", "52:54:00"]);
    expect(computeFact(blade, "sku")).toBe("SKU-X1");
    expect(computeFact(blade, "biosVendor")).toBe("Bootwright BIOS Co");
    expect(computeFact(blade, "chassisAssetTag")).toBe("ASSET-0042");
    expect(computeFact(blade, "storageControllerVendorIds")).toEqual(["0x1b36"]);
    expect(computeFact(blade, "hasRaidController")).toBe(false);
    expect(computeFact(blade, "cpuSockets")).toBe(2);
  });

  it("is null (or empty) where the machine does not say", () => {
    expect(computeFact(defaults, "bladeSlot")).toBeNull();
    expect(computeFact(defaults, "role")).toBeNull();
    expect(computeFact(q35, "role")).toBeNull(); // its one OEM string is not a role
    expect(computeFact(q35, "largestDiskBytes")).toBeNull();
    expect(computeFact(q35, "diskSizes")).toEqual([]);
    expect(computeFact(uefi, "firmwareType")).toBe("uefi");
    expect(computeFact(bigMemory, "installedMemoryBytes")).toBe(20 * 2 ** 30);
  });

  it("takes the role from a bootwright.role= OEM string, and a minimal inventory has no details", () => {
    const smbios = blade.details?.smbios;
    if (!blade.details || !smbios) throw new Error("fixture lost its SMBIOS");
    const storage: Inventory = {
      ...blade,
      details: {
        ...blade.details,
        smbios: { ...smbios, oemStrings: ["rack=R1", "bootwright.role=storage"] },
      },
    };
    expect(computeFact(storage, "role")).toBe("storage");
    const minimal: Inventory = { ...blade };
    delete minimal.details;
    expect(computeFact(minimal, "firmwareType")).toBeNull();
    expect(computeFact(minimal, "nicDrivers")).toEqual([]);
    expect(computeFact(minimal, "diskCount")).toBe(2);
  });
});

describe("operators", () => {
  it("equals: JSON equality on a value; any element of a list", () => {
    expect(holds(blade, { fact: "product", equals: "X1 Blade" })).toBe(true);
    expect(holds(blade, { fact: "product", equals: "X1" })).toBe(false);
    expect(holds(blade, { fact: "diskCount", equals: 2 })).toBe(true);
    expect(holds(blade, { fact: "diskCount", equals: "2" })).toBe(false);
    expect(holds(blade, { fact: "nicDrivers", equals: "e1000" })).toBe(true);
    expect(holds(defaults, { fact: "bladeSlot", equals: null })).toBe(true);
    expect(holds(blade, { fact: "hasRaidController", equals: false })).toBe(true);
  });

  it("in: one of a set", () => {
    expect(holds(blade, { fact: "firmwareType", in: ["uefi", "bios"] })).toBe(true);
    expect(holds(blade, { fact: "bladeSlot", in: ["Slot 1", "Slot 2"] })).toBe(false);
    expect(holds(blade, { fact: "nicDrivers", in: ["ixgbe", "e1000"] })).toBe(true);
    expect(holds(blade, { fact: "diskKinds", in: ["hdd", "ssd"] })).toBe(false);
  });

  it("gte / lte: numbers, with sizes in KiB…TiB (1024) and KB…TB (1000)", () => {
    expect(holds(bigMemory, { fact: "memoryBytes", gte: "16GiB" })).toBe(true);
    expect(holds(bigMemory, { fact: "memoryBytes", gte: "20GiB" })).toBe(false); // MemTotal is under 20 GiB
    expect(holds(bigMemory, { fact: "installedMemoryBytes", gte: "20GiB" })).toBe(true);
    expect(holds(blade, { fact: "memoryBytes", lte: "2GB" })).toBe(false); // 2,046,820,352 > 2,000,000,000
    expect(holds(blade, { fact: "memoryBytes", lte: "2GiB" })).toBe(true);
    expect(holds(blade, { fact: "diskCount", gte: 2 })).toBe(true);
    expect(holds(blade, { fact: "diskSizes", gte: "16GiB" })).toBe(true); // some disk is that big
    expect(holds(blade, { fact: "diskSizes", gte: "17GiB" })).toBe(false);
    expect(holds(q35, { fact: "largestDiskBytes", gte: 0 })).toBe(false); // null is not a number
    expect(holds(blade, { fact: "product", gte: 1 })).toBe(false);
  });

  it("glob: the whole string, * ? and [classes]", () => {
    expect(holds(blade, { fact: "product", glob: "X1*" })).toBe(true);
    expect(holds(blade, { fact: "product", glob: "X1" })).toBe(false);
    expect(holds(blade, { fact: "bladeSlot", glob: "Slot [0-9]" })).toBe(true);
    expect(holds(q35, { fact: "bladeSlot", glob: "Slot ?" })).toBe(false);
    expect(holds(q35, { fact: "bladeSlot", glob: "Blade ??" })).toBe(true);
    expect(holds(blade, { fact: "nicDrivers", glob: "virtio*" })).toBe(true);
    expect(holds(blade, { fact: "diskCount", glob: "*" })).toBe(false); // not a string
    expect(globToRegExp("a.b[!c]*").test("a.bd-anything")).toBe(true);
    expect(globToRegExp("a.b").test("axb")).toBe(false);
  });

  it("regex: unanchored JavaScript regular expression", () => {
    expect(holds(blade, { fact: "product", regex: "^X[0-9]+ Blade$" })).toBe(true);
    expect(holds(q35, { fact: "bladeSlot", regex: "(?<n>1[0-9])$" })).toBe(true);
    expect(holds(uefi, { fact: "product", regex: "Blade" })).toBe(false);
    expect(holds(blade, { fact: "oemStrings", regex: "^rack=R1" })).toBe(true);
  });

  it("exists: present, not null, a list not empty; false asks for absence", () => {
    expect(holds(blade, { fact: "role", exists: true })).toBe(true);
    expect(holds(defaults, { fact: "role", exists: true })).toBe(false);
    expect(holds(defaults, { fact: "role", exists: false })).toBe(true);
    expect(holds(q35, { fact: "diskKinds", exists: true })).toBe(false);
    expect(holds(blade, { fact: "details.smbios.baseboard", exists: true })).toBe(true);
    expect(holds(defaults, { fact: "details.smbios.baseboard", exists: true })).toBe(false);
  });

  it("dotted inventory paths: keys, indices and length", () => {
    expect(holds(blade, { fact: "system.product", equals: "X1 Blade" })).toBe(true);
    expect(holds(blade, { fact: "details.smbios.baseboard.locationInChassis", equals: "Slot 7" })).toBe(true);
    expect(holds(blade, { fact: "disks.length", equals: 2 })).toBe(true);
    expect(holds(blade, { fact: "details.disks.1.kind", equals: "nvme" })).toBe(true);
    expect(holds(q35, { fact: "details.disks.1.kind", exists: false })).toBe(true);
    expect(holds(blade, { fact: "details.cpu.flags", equals: "avx2" })).toBe(true);
  });
});

describe("Condition schema", () => {
  it.each([
    [{ fact: "product" }, /exactly one operator/],
    [{ fact: "diskCount", gte: 1, lte: 3 }, /exactly one operator/],
    [{ fact: "system.prodct", equals: "X" }, /unknown fact "system.prodct"/],
    [{ fact: "disks.first", equals: 1 }, /unknown fact/],
    [{ fact: "memoryBytes", gte: "64 gigs" }, /not a number or size/],
    [{ fact: "product", regex: "(" }, /regular expression/],
    [{ fact: "product", in: [] }, /too_small|>=1|at least/i],
    [{ fact: "product", equals: "X", extra: 1 }, /extra/],
  ])("refuses %j", (raw, message) => {
    const parsed = Condition.safeParse(raw);
    expect(parsed.success).toBe(false);
    expect((parsed.error?.issues ?? []).map((i) => `${i.code} ${i.message}`).join("\n")).toMatch(message);
  });

  it("reads sizes into bytes", () => {
    expect(Condition.parse({ fact: "memoryBytes", gte: "64GiB" }).gte).toBe(64 * 2 ** 30);
    expect(Condition.parse({ fact: "memoryBytes", gte: "1.5 TB" }).gte).toBe(1.5e12);
    expect(Condition.parse({ fact: "memoryBytes", lte: 512 }).lte).toBe(512);
  });
});
