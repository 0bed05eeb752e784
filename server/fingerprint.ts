// The configuration fingerprint: a stable hash over the facts that define a hardware configuration, so
// two machines of the same configuration share it (captured images are keyed by it: seed 003). The server
// computes it when an inventory arrives and stores it beside the machine. Serials, MACs, UUIDs, asset tags, slot
// locations and addresses are left out on purpose: they differ between machines of one configuration.
import { createHash } from "node:crypto";
import type { Inventory } from "../protocol/index.js";
import { canonicalJson } from "../protocol/policy/canonical-json.js";

/** Memory without SMBIOS: MemTotal rounded up to 256 MiB (the kernel keeps back a little of what is installed). */
const MEMORY_ROUND_BYTES = 256 * 2 ** 20;

/** The facts hashed, as a plain object: shown by `bootwright machines show` so an operator can see why two differ. */
export function configurationFacts(inventory: Inventory): Record<string, unknown> {
  const d = inventory.details;
  const installed = d?.memory.installedBytes ?? null;
  return {
    v: 1,
    manufacturer: inventory.system.manufacturer,
    product: inventory.system.product,
    cpuModel: inventory.cpu.model,
    cpuSockets: d?.cpu.sockets ?? null,
    cpuCores: d?.cpu.cores ?? null,
    cpuThreads: inventory.cpu.logicalCount,
    memoryBytes:
      installed !== null && installed > 0
        ? installed
        : Math.ceil(inventory.memoryBytes / MEMORY_ROUND_BYTES) * MEMORY_ROUND_BYTES,
    disks: (d
      ? d.disks.map((x) => `${x.kind}:${x.sizeBytes}`)
      : inventory.disks.map((x) => `?:${x.sizeBytes}`)
    ).sort(),
    nicCount: inventory.nics.length,
    nicDrivers: (d ? d.nics.map((n) => n.driver ?? "?") : []).sort(),
    raidControllers: (d
      ? d.storageControllers.filter((c) => c.raid).map((c) => `${c.vendorId}:${c.deviceId}`)
      : []
    ).sort(),
  };
}

/** "sha256:<hex>" over the canonical JSON of configurationFacts. */
export function configurationFingerprint(inventory: Inventory): string {
  return `sha256:${createHash("sha256")
    .update(canonicalJson(configurationFacts(inventory)))
    .digest("hex")}`;
}
