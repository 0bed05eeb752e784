// Pure helpers of the full inventory: /proc/cpuinfo topology, PCI addresses in sysfs paths, disk kinds,
// and the SMBIOS facts the inventory keeps. Tested on captured bytes; full.ts does the reading.
import type { SmbiosFacts } from "../../protocol/index.js";
import type { Smbios } from "./smbios/index.js";

export interface CpuTopology {
  vendor: string | null;
  sockets: number;
  cores: number;
  threads: number;
  flags: string[];
}

/** /proc/cpuinfo: sockets = distinct "physical id", cores = distinct (physical id, core id), threads = entries. */
export function parseCpuTopology(text: string): CpuTopology {
  let vendor: string | null = null;
  let flags: string[] | null = null;
  let threads = 0;
  const sockets = new Set<string>();
  const cores = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    if (!fields.has("processor")) continue;
    threads++;
    vendor ??= fields.get("vendor_id") ?? null;
    flags ??= (fields.get("flags") ?? "").split(/\s+/).filter(Boolean).sort();
    const socket = fields.get("physical id") ?? "0";
    sockets.add(socket);
    // Without "core id" (some kernels, ARM), count each logical processor as a core.
    cores.add(`${socket}/${fields.get("core id") ?? `t${threads}`}`);
  }
  return {
    vendor,
    sockets: Math.max(sockets.size, 1),
    cores: Math.max(cores.size, 1),
    threads,
    flags: flags ?? [],
  };
}

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** The last PCI function on a /sys/devices path: the controller a NIC or disk hangs off. */
export function lastPciAddress(devicePath: string): string | null {
  const parts = devicePath.split("/").filter((p) => PCI_ADDRESS.test(p));
  return parts.at(-1) ?? null;
}

export type DiskKind = "nvme" | "ssd" | "hdd" | "virtual";

/** NVMe by name; virtio-blk (a /virtioN/ on the path) is virtual; else queue/rotational decides. */
export function diskKind(name: string, devicePath: string, rotational: boolean): DiskKind {
  if (name.startsWith("nvme")) return "nvme";
  if (/\/virtio\d+\//.test(devicePath)) return "virtual";
  return rotational ? "hdd" : "ssd";
}

/** The subset of the decoded SMBIOS table the inventory posts. */
export function smbiosFacts(t: Smbios): SmbiosFacts {
  const board = t.baseboards.find((b) => b.hostingBoard) ?? t.baseboards[0];
  const chassis = t.chassis[0];
  return {
    version: t.version,
    bios: t.bios ? { vendor: t.bios.vendor, version: t.bios.version, releaseDate: t.bios.releaseDate } : null,
    system: t.system ? { sku: t.system.sku, family: t.system.family, version: t.system.version } : null,
    baseboard: board
      ? {
          manufacturer: board.manufacturer,
          product: board.product,
          version: board.version,
          serial: board.serial,
          assetTag: board.assetTag,
          locationInChassis: board.locationInChassis,
        }
      : null,
    chassis: chassis
      ? {
          manufacturer: chassis.manufacturer,
          product: null,
          version: chassis.version,
          serial: chassis.serial,
          assetTag: chassis.assetTag,
          type: chassis.type,
        }
      : null,
    processors: t.processors.map((p) => ({
      socket: p.socket,
      manufacturer: p.manufacturer,
      version: p.version,
      serial: p.serial,
      coreCount: p.coreCount,
      threadCount: p.threadCount,
      maxSpeedMhz: p.maxSpeedMhz,
    })),
    memoryDevices: t.memoryDevices.map((m) => ({
      locator: m.locator,
      sizeBytes: m.sizeBytes,
      type: m.type,
      speedMts: m.speedMts,
      manufacturer: m.manufacturer,
      serial: m.serial,
      partNumber: m.partNumber,
    })),
    slots: t.slots.map((s) => ({
      designation: s.designation,
      currentUsage: s.currentUsage,
      busAddress: s.busAddress,
    })),
    onboardDevices: t.onboardDevices.map((d) => ({
      referenceDesignation: d.referenceDesignation,
      type: d.type,
      enabled: d.enabled,
      busAddress: d.busAddress,
    })),
    oemStrings: t.oemStrings,
  };
}
