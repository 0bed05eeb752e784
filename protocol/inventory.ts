// The hardware inventory the loader posts to POST /v1/inventory: the minimal set of the walking skeleton
// (still what the benchmark's minimal gatherer posts) plus `details`, the full inventory of issue 4.
import * as z from "zod";
import { DriverReport, PciDevice } from "./drivers.js";
import { BootCategory } from "./boot-category.js";
import { BootPath } from "./boot-path.js";
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

export const DmiStrings = z.strictObject({
  manufacturer: z.string().nullable(),
  product: z.string().nullable(),
  version: z.string().nullable(),
  serial: z.string().nullable(),
  assetTag: z.string().nullable(),
});

export const SmbiosFacts = z.strictObject({
  /** Spec version from the entry point (/sys/firmware/dmi/tables/smbios_entry_point). */
  version: z.string(),
  /** Type 0: vendor, version (0x05), release date (0x08). */
  bios: z
    .strictObject({
      vendor: z.string().nullable(),
      version: z.string().nullable(),
      releaseDate: z.string().nullable(),
    })
    .nullable(),
  /** Type 1: SKU (0x19) and family (0x1A), beside the identity fields of `system`. */
  system: z
    .strictObject({
      sku: z.string().nullable(),
      family: z.string().nullable(),
      version: z.string().nullable(),
    })
    .nullable(),
  /** Type 2 (first, the hosting board): strings at 0x04-0x08 and location in chassis (0x0A): the blade slot. */
  baseboard: DmiStrings.extend({ locationInChassis: z.string().nullable() }).nullable(),
  /** Type 3: strings at 0x04-0x08 (0x08 = the asset tag) and the chassis type (0x05). */
  chassis: DmiStrings.extend({ type: z.string().nullable() }).nullable(),
  /** Type 4, one per socket: socket designation (0x04), version string (0x10), counts (0x23-0x25). */
  processors: z.array(
    z.strictObject({
      socket: z.string().nullable(),
      manufacturer: z.string().nullable(),
      version: z.string().nullable(),
      serial: z.string().nullable(),
      coreCount: z.number().int().nullable(),
      threadCount: z.number().int().nullable(),
      maxSpeedMhz: z.number().int().nullable(),
    }),
  ),
  /** Type 17: one per memory device (slot); sizeBytes 0 = empty slot. */
  memoryDevices: z.array(
    z.strictObject({
      locator: z.string().nullable(),
      sizeBytes: z.number().int().nonnegative().nullable(),
      type: z.string().nullable(),
      speedMts: z.number().int().nullable(),
      manufacturer: z.string().nullable(),
      serial: z.string().nullable(),
      partNumber: z.string().nullable(),
    }),
  ),
  /** Type 9: slot designation, usage and PCI address (0x0D-0x10). */
  slots: z.array(
    z.strictObject({
      designation: z.string().nullable(),
      currentUsage: z.string().nullable(),
      busAddress: z.string().nullable(),
    }),
  ),
  /** Type 41: onboard device designation, type and PCI address (0x07-0x0A). */
  onboardDevices: z.array(
    z.strictObject({
      referenceDesignation: z.string().nullable(),
      type: z.string().nullable(),
      enabled: z.boolean(),
      busAddress: z.string().nullable(),
    }),
  ),
  /** Type 11 strings, in order. */
  oemStrings: z.array(z.string()),
});
export type SmbiosFacts = z.infer<typeof SmbiosFacts>;

export const CpuDetails = z.strictObject({
  /** "vendor_id" in /proc/cpuinfo (GenuineIntel, AuthenticAMD…). */
  vendor: z.string().nullable(),
  /** Distinct "physical id" values in /proc/cpuinfo (1 when the kernel shows none). */
  sockets: z.number().int().positive(),
  /** Distinct (physical id, core id) pairs in /proc/cpuinfo. */
  cores: z.number().int().positive(),
  /** Logical processors ("processor" entries). */
  threads: z.number().int().positive(),
  /** "flags" of the first processor, sorted (policy may ask for e.g. avx2, aes, vmx). */
  flags: z.array(z.string()),
});

export const MemoryDetails = z.strictObject({
  /** MemTotal from /proc/meminfo, in bytes. */
  totalBytes: z.number().int().positive(),
  /** Sum of SMBIOS type 17 sizes: what is installed; null without SMBIOS. */
  installedBytes: z.number().int().nonnegative().nullable(),
});

export const NicDetails = z.strictObject({
  name: z.string().min(1),
  mac: MacAddress,
  /** Basename of the /sys/class/net/<name>/device/driver link (virtio_net, e1000e, ixgbe…). */
  driver: z.string().nullable(),
  /** PCI address: basename of /sys/class/net/<name>/device, or of its parent for virtio. */
  pciAddress: z.string().nullable(),
  /** /sys/class/net/<name>/speed in Mb/s; null when unknown (-1, link down, virtio). */
  speedMbps: z.number().int().positive().nullable(),
  /** /sys/class/net/<name>/carrier: 1 = link up; null when the interface is down (read fails). */
  carrier: z.boolean().nullable(),
});
export type NicDetails = z.infer<typeof NicDetails>;

export const DiskKind = z.enum(["nvme", "ssd", "hdd", "virtual"]);

export const DiskDetails = z.strictObject({
  name: z.string().min(1),
  /** /sys/block/<name>/size × 512. */
  sizeBytes: z.number().int().nonnegative(),
  /** /sys/block/<name>/device/model. */
  model: z.string().nullable(),
  /** /sys/block/<name>/device/serial (NVMe, virtio) or …/vpd_pg80 (SCSI); null when not exposed. */
  serial: z.string().nullable(),
  /** /sys/block/<name>/wwid or device/wwid. */
  wwn: z.string().nullable(),
  /** /sys/block/<name>/queue/rotational: 1 = spinning; nvme* names = NVMe; virtio-blk = virtual. */
  kind: DiskKind,
  rotational: z.boolean(),
  /** The device path under /sys/devices (realpath of /sys/block/<name>), e.g. pci0000:00/0000:00:04.0/… */
  busPath: z.string().nullable(),
  /** The last PCI function on that path: the controller the disk hangs off. */
  pciAddress: z.string().nullable(),
});
export type DiskDetails = z.infer<typeof DiskDetails>;

export const StorageController = z.strictObject({
  /** /sys/bus/pci/devices/<address>. */
  pciAddress: z.string(),
  /** …/vendor and …/device, e.g. "0x1000". */
  vendorId: z.string(),
  deviceId: z.string(),
  /** …/class: 0x0104xx = RAID controller, 0x0107xx = SAS, 0x0106xx = SATA, 0x0108xx = NVMe. */
  classCode: z.string(),
  raid: z.boolean(),
  driver: z.string().nullable(),
});

/** What a switch announces about itself and the port (IEEE 802.1AB TLVs), heard on one of our NICs. */
export const LldpNeighbour = z.strictObject({
  /** Chassis ID TLV (type 1): a MAC as aa:bb:…, else its text. */
  chassisId: z.string(),
  /** Port ID TLV (type 2): the switch's name for the port (ifName, a MAC, or local text). */
  portId: z.string(),
  /** Port Description TLV (type 4). */
  portDescription: z.string().nullable().optional(),
  /** System Name TLV (type 5): the switch's name, e.g. rack12-tor. */
  systemName: z.string().nullable().optional(),
  /** IEEE 802.1 Port VLAN ID (organizationally specific TLV 00-80-C2 subtype 1). */
  vlan: z.number().int().nullable().optional(),
  /** Our NIC that heard it. */
  interface: z.string().optional(),
});
export type LldpNeighbour = z.infer<typeof LldpNeighbour>;

export const NetworkLocation = z.strictObject({
  /** The boot interface and the lease the loader got on it (/run/bootwright/lease-<iface>). */
  interface: z.string(),
  address: z.string(),
  prefixLength: z.number().int().nullable(),
  gateway: z.string().nullable(),
  /** DHCP option 54 (server identifier) from the lease. */
  dhcpServer: z.string().nullable(),
  dns: z.array(z.string()),
  /** The switch port the boot NIC is plugged into, from the LLDP frames it heard; null when none came. */
  lldpNeighbour: LldpNeighbour.nullable(),
});

/** Written by the installer at the end of an install (seed 003 claim 14: the machine already runs it). */
export const InstalledMarker = z.strictObject({
  image: z.string().min(1),
  /** "sha256:<hex>" of the plan it was installed with. */
  planHash: z.string().min(1),
  /** The partition it was read from, e.g. vda1 (filled in by the loader). */
  partition: z.string(),
  /** Written by our installer so the installed OS can call home: who it is and where the server is. */
  machineId: z.string().optional(),
  server: z.string().optional(),
  /** The installed OS's own credential, for its call home and health reports only (rotated at each call home). */
  credential: z.string().optional(),
});
export type InstalledMarker = z.infer<typeof InstalledMarker>;

export const InventoryDetails = z.strictObject({
  /** UEFI when /sys/firmware/efi exists, else BIOS. */
  firmwareType: z.enum(["bios", "uefi"]),
  /**
   * Whether the firmware enforces Secure Boot: the SecureBoot variable (EFI global GUID
   * 8be4df61-93ca-11d2-aa0d-00e098032b8c, one byte) read through efivarfs; null on BIOS or when unreadable.
   * Absent from inventories stored before it was read.
   */
  secureBoot: z.boolean().nullable().optional(),
  /** How the loader was booted: bootwright.path= on its kernel command line; null when none (a direct boot). */
  bootPath: BootPath.nullable().optional(),
  /** Decoded /sys/firmware/dmi/tables; null when absent or corrupt (then smbiosError says why). */
  smbios: SmbiosFacts.nullable(),
  smbiosError: z.strictObject({ code: z.string(), offset: z.number().int(), message: z.string() }).nullable(),
  cpu: CpuDetails,
  memory: MemoryDetails,
  nics: z.array(NicDetails),
  disks: z.array(DiskDetails),
  storageControllers: z.array(StorageController),
  network: NetworkLocation.nullable(),
  /** Every PCI function, the driver bound to it and where that came from; absent from older inventories. */
  pciDevices: z.array(PciDevice).optional(),
  /** The drivers the loader asked the server for, and how loading them went; absent when it asked none. */
  drivers: DriverReport.optional(),
});
export type InventoryDetails = z.infer<typeof InventoryDetails>;

export const Inventory = z.strictObject({
  /** The NIC the machine booted from: BOOTIF= on the kernel command line, else the NIC that got a lease. */
  bootMac: MacAddress,
  system: SystemInfo,
  cpu: CpuInfo,
  /** MemTotal from /proc/meminfo, in bytes (what the kernel can use, a little under what is installed). */
  memoryBytes: z.number().int().positive(),
  nics: z.array(NicInfo).min(1),
  disks: z.array(DiskInfo),
  /** The full inventory (agent/inventory/full.ts); absent from the minimal one. */
  details: InventoryDetails.optional(),
  /**
   * What the installed system says it is: the JSON in the GPT partition named "bootwright-marker"
   * (agent/inventory/marker.ts). Null when no disk has one; absent from the minimal inventory.
   */
  installedMarker: InstalledMarker.nullable().optional(),
});
export type Inventory = z.infer<typeof Inventory>;

/** The server's answer to an accepted inventory. */
export const InventoryAccepted = z.strictObject({
  machineId: z.string(),
  category: BootCategory,
  /** True when the machine already runs its resolved plan: the loader reboots it into its own disk. */
  bootFromDisk: z.boolean(),
  /**
   * With bootFromDisk: "kexec" when the plan lets the loader start the installed kernel itself (as
   * boot-installed does); absent: reboot through the firmware.
   */
  reboot: z.literal("kexec").optional(),
  /**
   * The machine's credential for every call after this one (next, results, events, its agent, its image,
   * uploads, maintenance progress, boot area), as `Authorization: Bearer <credential>`. A new one at each
   * enrollment; the one before stops working.
   */
  credential: z.string(),
});
export type InventoryAccepted = z.infer<typeof InventoryAccepted>;
