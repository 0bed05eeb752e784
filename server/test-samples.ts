// Sample rows for tests: an inventory and a machine as the store keeps them. Pure (no node:* import), so
// the console's browser-typed tests use them too; server/test-support.ts re-exports them.
import type { Inventory, Machine } from "../protocol/index.js";

export const SAMPLE_UUID = "0e0c8a6a-6f5f-4c43-9d57-0000000000a1";

/** The sample inventory of a machine with one NIC, `mac`, and these SMBIOS system fields (Acme's). */
export function inventoryFor(mac: string, system: Omit<Inventory["system"], "manufacturer">): Inventory {
  return sampleInventory({
    bootMac: mac,
    nics: [{ name: "eth0", mac }],
    system: { manufacturer: "Acme", ...system },
  });
}

export function sampleInventory(overrides: Partial<Inventory> = {}): Inventory {
  return {
    bootMac: "52:54:00:aa:00:01",
    system: { manufacturer: "Acme", product: "X1", serial: "SN-123", uuid: SAMPLE_UUID },
    cpu: { model: "QEMU TCG CPU", logicalCount: 2 },
    memoryBytes: 1024 * 2 ** 20,
    nics: [{ name: "eth0", mac: "52:54:00:aa:00:01" }],
    disks: [{ name: "vda", sizeBytes: 512 * 2 ** 20 }],
    ...overrides,
  };
}

/**
 * A machine row as the store keeps it (inventoried, enrolled, untagged, first and last seen `at`), for
 * tests that write rows directly; `overrides` says what the test is about.
 */
export function sampleMachine(id: string, at: string, overrides: Partial<Machine> = {}): Machine {
  return {
    id,
    bootMac: "52:54:00:aa:00:01",
    category: "inventoried",
    expected: null,
    firstSeenAt: at,
    lastSeenAt: at,
    fingerprint: null,
    plan: null,
    bootPath: null,
    inventory: sampleInventory(),
    enrollment: { state: "enrolled", reason: null, sharedUuid: null },
    tags: [],
    note: null,
    retired: null,
    ...overrides,
  };
}
