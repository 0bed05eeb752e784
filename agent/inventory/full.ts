// Gathers the full inventory (protocol InventoryDetails) on top of the minimal one, from /sys, /proc and
// our own SMBIOS parser. Why not systeminformation: inside the initramfs (busybox + node, no udev) its
// Linux probes mostly shell out to tools we do not ship — cpu() / memLayout() / system() / bios() /
// baseboard() / chassis() run `dmidecode` (and lscpu), blockDevices() / diskLayout() run `lsblk`, `smartctl`
// and `udevadm`, networkInterfaces() runs `ethtool`/`iwconfig`/`nmcli`; without them it returns empty
// strings or zeros, silently. The facts it could still give there (CPU model, flags and topology from
// /proc/cpuinfo; MemTotal; MAC, speed and carrier from /sys/class/net) are what we read below directly, in
// milliseconds, with no dependency and with errors we control; so we do not use it at all.
import { join } from "node:path";
import type {
  BootPath,
  DiskDetails,
  DriverReport,
  Inventory,
  InventoryDetails,
  LldpNeighbour,
  MacAddress,
  NicDetails,
} from "../../protocol/index.js";
import { leaseFile, parseLease } from "../shared/dhcp-lease.js";
import { diskKind, lastPciAddress, parseCpuTopology, smbiosFacts } from "./details-parsers.js";
import { gatherMinimalInventory } from "./minimal.js";
import { readPciDevices } from "./pci.js";
import { readInstalledMarker } from "./marker.js";
import { parseSmbios } from "./smbios/index.js";
import { devicePath, exists, linkName, listDir, readBytes, readText } from "./sysfs.js";

async function readNicDetails(root: string, nics: Inventory["nics"]): Promise<NicDetails[]> {
  return Promise.all(
    nics.map(async ({ name, mac }) => {
      const dir = join(root, "sys/class/net", name);
      const speed = Number(await readText(join(dir, "speed")));
      const carrier = await readText(join(dir, "carrier"));
      const path = await devicePath(root, join(dir, "device"));
      return {
        name,
        mac,
        driver: await linkName(join(dir, "device/driver")),
        pciAddress: path === null ? null : lastPciAddress(path),
        // -1 (or unreadable) when the link is down or the driver does not say (virtio).
        speedMbps: Number.isInteger(speed) && speed > 0 ? speed : null,
        carrier: carrier === null ? null : carrier === "1",
      };
    }),
  );
}

async function readDiskDetails(root: string, disks: Inventory["disks"]): Promise<DiskDetails[]> {
  return Promise.all(
    disks.map(async ({ name, sizeBytes }) => {
      const dir = join(root, "sys/block", name);
      const path = await devicePath(root, dir);
      const rotational = (await readText(join(dir, "queue/rotational"))) === "1";
      return {
        name,
        sizeBytes,
        model: await readText(join(dir, "device/model")),
        // NVMe and SCSI put the serial on the device, virtio-blk on the disk itself.
        serial: (await readText(join(dir, "device/serial"))) ?? (await readText(join(dir, "serial"))),
        wwn: (await readText(join(dir, "wwid"))) ?? (await readText(join(dir, "device/wwid"))),
        kind: diskKind(name, `/${path ?? ""}`, rotational),
        rotational,
        busPath: path,
        pciAddress: path === null ? null : lastPciAddress(path),
      };
    }),
  );
}

/** Mass-storage PCI functions (class 0x01xxxx); 0x0104xx are RAID controllers. */
async function readStorageControllers(root: string): Promise<InventoryDetails["storageControllers"]> {
  const base = join(root, "sys/bus/pci/devices");
  // Every PCI function's class is read at once: one at a time, the loop dominated the inventory's time.
  const addresses = await listDir(base);
  const classes = await Promise.all(addresses.map((address) => readText(join(base, address, "class"))));
  const storage = addresses.flatMap((address, i) => {
    const classCode = classes[i];
    return classCode?.startsWith("0x01") ? [{ address, classCode }] : [];
  });
  return Promise.all(
    storage.map(async ({ address, classCode }) => {
      const [vendorId, deviceId, driver] = await Promise.all([
        readText(join(base, address, "vendor")),
        readText(join(base, address, "device")),
        linkName(join(base, address, "driver")),
      ]);
      return {
        pciAddress: address,
        vendorId: vendorId ?? "",
        deviceId: deviceId ?? "",
        classCode,
        raid: classCode.startsWith("0x0104"),
        driver,
      };
    }),
  );
}

async function readSmbios(
  root: string,
): Promise<Pick<InventoryDetails, "smbios" | "smbiosError"> & { installed: number | null }> {
  const dir = join(root, "sys/firmware/dmi/tables");
  const [entryPoint, table] = await Promise.all([
    readBytes(join(dir, "smbios_entry_point")),
    readBytes(join(dir, "DMI")),
  ]);
  if (!entryPoint || !table) return { smbios: null, smbiosError: null, installed: null };
  const parsed = parseSmbios(entryPoint, table);
  if (!parsed.ok) return { smbios: null, smbiosError: parsed.error, installed: null };
  const sizes = parsed.value.memoryDevices.map((m) => m.sizeBytes ?? 0);
  return {
    smbios: smbiosFacts(parsed.value),
    smbiosError: null,
    installed: sizes.length ? sizes.reduce((a, b) => a + b, 0) : null,
  };
}

/** EFI_GLOBAL_VARIABLE's SecureBoot: 4 bytes of attributes, then 1 = enforcing. Null when unreadable. */
export async function readSecureBoot(root: string): Promise<boolean | null> {
  const file = await readBytes(
    join(root, "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
  );
  return file && file.length >= 5 ? file[4] === 1 : null;
}

/** What the loader knows beside the hardware: how it was booted, what the switch said. */
export interface InventoryExtras {
  bootPath?: BootPath | null;
  /** LLDP neighbours heard, one per interface (agent/loader/lldp-listener.ts). */
  lldp?: readonly LldpNeighbour[];
  /** The drivers the loader fetched on demand before this inventory (agent/loader/drivers.ts). */
  drivers?: DriverReport;
}

/**
 * The full inventory: the minimal one plus `details`. The network location is the boot NIC's DHCP lease,
 * as initramfs/udhcpc.script wrote it (/run/bootwright/lease-<interface>), and the LLDP neighbour heard
 * on that NIC.
 */
export async function gatherFullInventory(
  root: string,
  bootMac: MacAddress,
  extras: InventoryExtras = {},
): Promise<Inventory> {
  const minimal = await gatherMinimalInventory(root, bootMac);
  const bootNic = minimal.nics.find((nic) => nic.mac === bootMac);
  const leaseText = bootNic ? await readText(leaseFile(bootNic.name, root)) : null;
  const lease = leaseText === null ? undefined : parseLease(leaseText);
  const [cpuinfo, smbios, nics, disks, storageControllers, uefi, installedMarker, secureBoot, pciDevices] =
    await Promise.all([
      readText(join(root, "proc/cpuinfo")),
      readSmbios(root),
      readNicDetails(root, minimal.nics),
      readDiskDetails(root, minimal.disks),
      readStorageControllers(root),
      exists(join(root, "sys/firmware/efi")),
      readInstalledMarker(root),
      readSecureBoot(root),
      readPciDevices(root, new Set(extras.drivers?.loaded ?? [])),
    ]);
  const lldpNeighbour = extras.lldp?.find((n) => n.interface === lease?.interface) ?? null;
  const topology = parseCpuTopology(cpuinfo ?? "");
  return {
    ...minimal,
    installedMarker,
    details: {
      firmwareType: uefi ? "uefi" : "bios",
      secureBoot: uefi ? secureBoot : null,
      bootPath: extras.bootPath ?? null,
      smbios: smbios.smbios,
      smbiosError: smbios.smbiosError,
      cpu: {
        vendor: topology.vendor,
        sockets: topology.sockets,
        cores: topology.cores,
        threads: Math.max(topology.threads, 1),
        flags: topology.flags,
      },
      memory: { totalBytes: minimal.memoryBytes, installedBytes: smbios.installed },
      nics,
      disks,
      storageControllers,
      network: lease
        ? {
            interface: lease.interface,
            address: lease.ip,
            prefixLength: lease.prefixLength,
            gateway: lease.router,
            dhcpServer: lease.dhcpServer,
            dns: lease.dns,
            lldpNeighbour,
          }
        : null,
      pciDevices,
      ...(extras.drivers ? { drivers: extras.drivers } : {}),
    },
  };
}
