// The facts a policy rule can test, read from one inventory (pure): the computed vocabulary of
// protocol/policy.ts (COMPUTED_FACTS) and dotted paths into the Inventory itself; and what operators
// wrote on the machine (its tags), which no inventory carries.
import type { ComputedFact, FactValue, Inventory } from "../index.js";

/** A fact's value: one value, a list (one per NIC, disk, …), or undefined when the inventory lacks it. */
export type FactReading = FactValue | readonly FactValue[] | undefined;

/** An OEM string naming the machine's role: "bootwright.role=<x>"; QEMU's -smbios type=11 captures use ":". */
const ROLE_PATTERN = /^bootwright[.:]role=(.+)$/;

/** What the server knows of a machine beside its inventory. */
export interface OperatorFacts {
  tags: readonly string[];
}

export const NO_OPERATOR_FACTS: OperatorFacts = { tags: [] };

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

const COMPUTE: {
  readonly [K in ComputedFact]: (inv: Inventory, operator: OperatorFacts) => FactReading;
} = {
  manufacturer: (inv) => inv.system.manufacturer,
  product: (inv) => inv.system.product,
  serial: (inv) => inv.system.serial,
  sku: (inv) => inv.details?.smbios?.system?.sku ?? null,
  family: (inv) => inv.details?.smbios?.system?.family ?? null,
  biosVendor: (inv) => inv.details?.smbios?.bios?.vendor ?? null,
  biosVersion: (inv) => inv.details?.smbios?.bios?.version ?? null,
  firmwareType: (inv) => inv.details?.firmwareType ?? null,
  bladeSlot: (inv) => inv.details?.smbios?.baseboard?.locationInChassis ?? null,
  chassisAssetTag: (inv) => inv.details?.smbios?.chassis?.assetTag ?? null,
  role: (inv) => {
    for (const text of inv.details?.smbios?.oemStrings ?? []) {
      const found = ROLE_PATTERN.exec(text.trim());
      if (found?.[1]) return found[1];
    }
    return null;
  },
  oemStrings: (inv) => inv.details?.smbios?.oemStrings ?? [],
  cpuModel: (inv) => inv.cpu.model,
  cpuVendor: (inv) => inv.details?.cpu.vendor ?? null,
  cpuThreads: (inv) => inv.cpu.logicalCount,
  cpuCores: (inv) => inv.details?.cpu.cores ?? null,
  cpuSockets: (inv) => inv.details?.cpu.sockets ?? null,
  cpuFlags: (inv) => inv.details?.cpu.flags ?? [],
  memoryBytes: (inv) => inv.memoryBytes,
  installedMemoryBytes: (inv) => inv.details?.memory.installedBytes ?? null,
  diskCount: (inv) => inv.disks.length,
  totalDiskBytes: (inv) => sum(inv.disks.map((d) => d.sizeBytes)),
  largestDiskBytes: (inv) => (inv.disks.length ? Math.max(...inv.disks.map((d) => d.sizeBytes)) : null),
  smallestDiskBytes: (inv) => (inv.disks.length ? Math.min(...inv.disks.map((d) => d.sizeBytes)) : null),
  diskSizes: (inv) => inv.disks.map((d) => d.sizeBytes),
  diskKinds: (inv) => (inv.details?.disks ?? []).map((d) => d.kind),
  diskModels: (inv) => (inv.details?.disks ?? []).flatMap((d) => (d.model === null ? [] : [d.model])),
  nicCount: (inv) => inv.nics.length,
  nicDrivers: (inv) => (inv.details?.nics ?? []).flatMap((n) => (n.driver === null ? [] : [n.driver])),
  nicOuis: (inv) => inv.nics.map((n) => n.mac.slice(0, 8)),
  bootMac: (inv) => inv.bootMac,
  storageControllerVendorIds: (inv) => (inv.details?.storageControllers ?? []).map((c) => c.vendorId),
  hasRaidController: (inv) => (inv.details?.storageControllers ?? []).some((c) => c.raid),
  secureBoot: (inv) => inv.details?.secureBoot ?? null,
  bootPath: (inv) => inv.details?.bootPath ?? null,
  switchName: (inv) => {
    const neighbour = inv.details?.network?.lldpNeighbour;
    return neighbour ? (neighbour.systemName ?? neighbour.chassisId) : null;
  },
  switchPort: (inv) => inv.details?.network?.lldpNeighbour?.portId ?? null,
  switchPortDescription: (inv) => inv.details?.network?.lldpNeighbour?.portDescription ?? null,
  vlan: (inv) => inv.details?.network?.lldpNeighbour?.vlan ?? null,
  tags: (_inv, operator) => operator.tags,
};

export function computeFact(
  inventory: Inventory,
  fact: ComputedFact,
  operator: OperatorFacts = NO_OPERATOR_FACTS,
): FactReading {
  return COMPUTE[fact](inventory, operator);
}

/** The value at a dotted inventory path (checked against the Inventory schema when the policy loaded). */
export function readInventoryPath(inventory: Inventory, keys: readonly string[]): unknown {
  let at: unknown = inventory;
  for (const key of keys) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}
