// parseSmbios on captured fixtures and hand-built tables: decoded values, typed errors with offsets,
// and fuzzing (every truncation, thousands of random corruptions) that must never throw or hang.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fromDumpBin,
  parseSmbios,
  SMBIOS_ERROR_CODES,
  toDumpBin,
  type SmbiosResult,
  type Smbios,
} from "./index.js";
import {
  concat,
  endOfTable,
  entryPoint2,
  entryPoint3,
  slotsAndOnboardTable,
  structure,
} from "./test-tables.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/smbios", import.meta.url));
const fixtures = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => ({
    name: e.name,
    entryPoint: new Uint8Array(readFileSync(join(FIXTURES, e.name, "smbios_entry_point"))),
    table: new Uint8Array(readFileSync(join(FIXTURES, e.name, "DMI"))),
  }));

function fixture(name: string): { entryPoint: Uint8Array; table: Uint8Array } {
  const found = fixtures.find((f) => f.name === name);
  if (!found) throw new Error(`no fixture ${name}`);
  return found;
}

function ok(result: SmbiosResult<Smbios>): Smbios {
  if (!result.ok) throw new Error(`${result.error.code} at ${result.error.offset}: ${result.error.message}`);
  return result.value;
}

/** A result is either a decoded table or an error with a documented code and an in-range offset. */
function wellFormed(result: SmbiosResult<Smbios>, entryLength: number, tableLength: number): boolean {
  if (result.ok) return Array.isArray(result.value.structures);
  const { code, offset, message } = result.error;
  return (
    code in SMBIOS_ERROR_CODES &&
    Number.isInteger(offset) &&
    offset >= 0 &&
    offset <= Math.max(entryLength, tableLength) &&
    message.length > 0
  );
}

describe("parseSmbios on captured QEMU tables", () => {
  it("decodes every type QEMU was given (bios-full-2nic-nvme: SMBIOS 2.8, -smp 4 sockets=2)", () => {
    const { entryPoint, table } = fixture("bios-full-2nic-nvme");
    const t = ok(parseSmbios(entryPoint, table));
    expect(t.entryPoint.anchor).toBe("_SM_");
    expect(t.version).toBe("2.8");
    expect(t.bios).toMatchObject({ vendor: "Bootwright BIOS Co", version: "1.2.3", biosRevision: "2.7" });
    expect(t.system).toMatchObject({
      manufacturer: "Acme",
      product: "X1 Blade",
      serial: "SN-1001",
      uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000c0002",
      sku: "SKU-X1",
      family: "X Series",
    });
    expect(t.baseboards).toEqual([
      expect.objectContaining({ locationInChassis: "Slot 7", serial: "BSN-77" }),
    ]);
    expect(t.chassis).toEqual([expect.objectContaining({ assetTag: "ASSET-0042", sku: "CH-SKU" })]);
    expect(t.processors.map((p) => [p.socket, p.coreCount, p.threadCount])).toEqual([
      ["CPU Socket 0", 2, 2],
      ["CPU Socket 1", 2, 2],
    ]);
    expect(t.oemStrings).toEqual(["bootwright:role=compute", "rack=R12"]);
    expect(t.memoryDevices.map((m) => [m.sizeBytes, m.speedMts, m.manufacturer])).toEqual([
      [2 * 2 ** 30, 3200, "Acme RAM"],
    ]);
  });

  it("reads a 3.x (_SM3_) entry point and sums memory devices past 16 GiB (bios-big-memory, -m 20G)", () => {
    const { entryPoint, table } = fixture("bios-big-memory");
    const t = ok(parseSmbios(entryPoint, table));
    expect(t.entryPoint).toMatchObject({ anchor: "_SM3_", major: 3, structureCount: null });
    expect(t.memoryDevices.reduce((sum, m) => sum + (m.sizeBytes ?? 0), 0)).toBe(20 * 2 ** 30);
    expect(t.processors[0]).toMatchObject({ coreCount: 4, threadCount: 8, manufacturer: "Other Silicon" });
  });

  it("decodes system slots (9) and onboard devices (41) with their PCI addresses", () => {
    const table = slotsAndOnboardTable();
    const t = ok(parseSmbios(entryPoint3(table.length), table));
    expect(t.slots.map((s) => [s.designation, s.currentUsage, s.busAddress])).toEqual([
      ["PCIE SLOT 1", "In Use", "0000:3b:00.0"],
      ["SLOT 2", "Available", null],
    ]);
    expect(t.onboardDevices.map((d) => [d.referenceDesignation, d.type, d.enabled, d.busAddress])).toEqual([
      ["NIC1", "Ethernet", true, "0000:19:00.1"],
      ["Onboard SAS", "SAS Controller", false, "0001:5e:1f.7"],
    ]);
  });

  it("reads the UUID's first three fields big-endian before SMBIOS 2.6 (as dmidecode does)", () => {
    const uuid = [
      0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ];
    const table = concat([structure(1, 0x100, [0, 0, 0, 0, ...uuid, 6]), endOfTable()]);
    expect(ok(parseSmbios(entryPoint2(table.length, 2, 5), table)).system?.uuid).toBe(
      "00112233-4455-6677-8899-aabbccddeeff",
    );
    expect(ok(parseSmbios(entryPoint2(table.length, 2, 6), table)).system?.uuid).toBe(
      "33221100-5544-7766-8899-aabbccddeeff",
    );
    const zero = concat([
      structure(1, 0x100, [0, 0, 0, 0, ...new Array<number>(16).fill(0), 6]),
      endOfTable(),
    ]);
    expect(ok(parseSmbios(entryPoint2(zero.length, 2), zero)).system?.uuid).toBeNull();
  });

  it("round-trips a dmidecode --dump-bin file", () => {
    const { entryPoint, table } = fixture("q35-smbios3");
    const split = fromDumpBin(toDumpBin(entryPoint, table));
    expect(split.ok).toBe(true);
    if (!split.ok) return;
    const fromDump = ok(parseSmbios(split.value.entryPoint, split.value.table));
    const direct = ok(parseSmbios(entryPoint, table));
    expect(fromDump.entryPoint.tableAddress).toBe(32);
    expect({ ...fromDump, entryPoint: null }).toEqual({ ...direct, entryPoint: null });
  });
});

describe("parseSmbios errors", () => {
  const table = concat([structure(11, 0xb00, [1], ["x"]), endOfTable()]);

  it.each<[string, Uint8Array, Uint8Array, string, number]>([
    ["unknown anchor", Uint8Array.from(Buffer.from("_XX_....")), table, "entry_point_unknown_anchor", 0],
    ["entry point cut short", entryPoint3(table.length).subarray(0, 10), table, "entry_point_truncated", 10],
    [
      "bad checksum",
      Uint8Array.from(entryPoint3(table.length), (b, i) => (i === 0x0c ? b ^ 1 : b)),
      table,
      "entry_point_bad_checksum",
      0x05,
    ],
    ["table cut in a string set", entryPoint3(table.length), table.subarray(0, 7), "table_truncated", 7],
    [
      "2.x table shorter than declared",
      entryPoint2(table.length, 2),
      table.subarray(0, 9),
      "table_shorter_than_declared",
      9,
    ],
    ["3.x table without type 127", entryPoint3(table.length), table.subarray(0, 8), "no_end_of_table", 8],
    [
      "structure length below 4",
      entryPoint3(8),
      Uint8Array.from([1, 3, 0, 0, 0, 0, 0, 0]),
      "structure_bad_length",
      1,
    ],
    [
      "type 17 shorter than its 2.1 layout",
      entryPoint3(64),
      concat([structure(17, 0x1100, [1, 2, 3]), endOfTable()]),
      "structure_bad_length",
      1,
    ],
  ])("%s: typed error with its offset", (_, ep, t, code, offset) => {
    const result = parseSmbios(ep, t);
    expect(result.ok ? "ok" : result.error).toMatchObject({ code, offset });
  });

  it("documents every error code it can return", () => {
    for (const [code, text] of Object.entries(SMBIOS_ERROR_CODES)) expect(text, code).toMatch(/\w{4,}/);
  });
});

describe("parseSmbios fuzz: never throws, never hangs", () => {
  it("every byte-truncation of every fixture's entry point and table → typed error or a result", () => {
    const started = performance.now();
    let runs = 0;
    for (const f of fixtures) {
      for (let n = 0; n <= f.entryPoint.length; n++) {
        const r = parseSmbios(f.entryPoint.subarray(0, n), f.table);
        expect(wellFormed(r, n, f.table.length), `${f.name} entry point cut at ${n}`).toBe(true);
        if (n < f.entryPoint.length) expect(r.ok, `${f.name} entry point cut at ${n}`).toBe(false);
        runs++;
      }
      for (let n = 0; n < f.table.length; n++) {
        const r = parseSmbios(f.entryPoint, f.table.subarray(0, n));
        expect(wellFormed(r, f.entryPoint.length, n), `${f.name} table cut at ${n}`).toBe(true);
        // A cut table is never a silent partial result.
        expect(r.ok, `${f.name} table cut at ${n}`).toBe(false);
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(2000);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("5,000 random corruptions (byte flips, overwrites, insertions, deletions) → typed error or a result", () => {
    const started = performance.now();
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), value: fc.constant(0) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: fixtures.length - 1 }),
        fc.boolean(),
        fc.array(mutation, { minLength: 1, maxLength: 8 }),
        (index, inEntryPoint, mutations) => {
          const f = fixtures[index];
          if (!f) return true;
          const bytes = [...(inEntryPoint ? f.entryPoint : f.table)];
          for (const m of mutations) {
            const at = m.at % (bytes.length + 1);
            if (m.kind === "set") bytes[at] = m.value;
            else if (m.kind === "insert") bytes.splice(at, 0, m.value);
            else bytes.splice(at, 1);
          }
          const mutated = Uint8Array.from(bytes);
          const ep = inEntryPoint ? mutated : f.entryPoint;
          const table = inEntryPoint ? f.table : mutated;
          return wellFormed(parseSmbios(ep, table), ep.length, table.length);
        },
      ),
      { numRuns: 5_000 },
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
