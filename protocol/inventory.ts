// The hardware inventory the loader posts to POST /v1/inventory (minimal set; issue 4 completes it).
import { z } from "zod";
import { BootCategory } from "./boot-category.js";
import { MacAddress } from "./mac.js";

export const SystemInfo = z.strictObject({
  /** /sys/class/dmi/id/sys_vendor (SMBIOS type 1, Manufacturer). */
  manufacturer: z.string().nullable(),
  /** /sys/class/dmi/id/product_name (SMBIOS type 1, Product Name). */
  product: z.string().nullable(),
  /** /sys/class/dmi/id/product_serial (SMBIOS type 1, Serial Number). */
  serial: z.string().nullable(),
  /** /sys/class/dmi/id/product_uuid (SMBIOS type 1, UUID), lower-case. */
  uuid: z.string().nullable(),
});
export type SystemInfo = z.infer<typeof SystemInfo>;

export const CpuInfo = z.strictObject({
  /** "model name" of the first processor in /proc/cpuinfo. */
  model: z.string().nullable(),
  /** Logical processors: the "processor" entries in /proc/cpuinfo. */
  logicalCount: z.number().int().positive(),
});
export type CpuInfo = z.infer<typeof CpuInfo>;

export const NicInfo = z.strictObject({
  /** Kernel interface name, e.g. eth0 (/sys/class/net/<name>). */
  name: z.string().min(1),
  /** /sys/class/net/<name>/address. */
  mac: MacAddress,
});
export type NicInfo = z.infer<typeof NicInfo>;

export const DiskInfo = z.strictObject({
  /** Kernel block device name, e.g. vda (/sys/block/<name>). */
  name: z.string().min(1),
  /** /sys/block/<name>/size × 512 (the kernel counts 512-byte sectors whatever the disk's block size). */
  sizeBytes: z.number().int().nonnegative(),
});
export type DiskInfo = z.infer<typeof DiskInfo>;

export const Inventory = z.strictObject({
  /** The NIC the machine booted from: BOOTIF= on the kernel command line, else the NIC that got a lease. */
  bootMac: MacAddress,
  system: SystemInfo,
  cpu: CpuInfo,
  /** MemTotal from /proc/meminfo, in bytes (what the kernel can use, a little under what is installed). */
  memoryBytes: z.number().int().positive(),
  nics: z.array(NicInfo).min(1),
  disks: z.array(DiskInfo),
});
export type Inventory = z.infer<typeof Inventory>;

/** The server's answer to an accepted inventory. */
export const InventoryAccepted = z.strictObject({
  machineId: z.string(),
  category: BootCategory,
});
export type InventoryAccepted = z.infer<typeof InventoryAccepted>;
