// Drivers on demand: the loader names the PCI devices no driver claimed, the server answers which
// kernel modules (and firmware) claim them and one content-addressed bundle that carries them.
import * as z from "zod";

/** A PCI modalias as the kernel writes it (/sys/bus/pci/devices/<address>/modalias). */
export const PciModalias = z
  .string()
  .max(128)
  .regex(/^pci:v[0-9A-F]{8}d[0-9A-F]{8}sv[0-9A-F]{8}sd[0-9A-F]{8}bc[0-9A-F]{2}sc[0-9A-F]{2}i[0-9A-F]{2}$/);

/** A kernel release as `uname -r` prints it, e.g. 6.1.0-57-amd64. */
export const KernelRelease = z
  .string()
  .max(64)
  .regex(/^[0-9][A-Za-z0-9._+-]*$/);

export const DriversRequest = z.strictObject({
  kernel: KernelRelease,
  modaliases: z.array(PciModalias).min(1).max(256),
});
export type DriversRequest = z.infer<typeof DriversRequest>;

export const DriversAnswer = z.strictObject({
  kernel: KernelRelease,
  /** Per modalias asked: the modules that claim it (modules.alias), [] when none does. */
  devices: z.array(z.strictObject({ modalias: PciModalias, modules: z.array(z.string()) })),
  /** Every module in the bundle, dependencies first (the order to load them in), with its file in the tree. */
  modules: z.array(z.strictObject({ name: z.string(), path: z.string() })),
  /** Firmware files the bundle carries (lib/firmware/<file>); `firmwareMissing`: asked for, shipped by no package. */
  firmware: z.array(z.string()),
  firmwareMissing: z.array(z.string()),
  /** The tar.zst with lib/modules/<kernel>/… and lib/firmware/…; null when no module claims any device. */
  bundle: z
    .strictObject({
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      sizeBytes: z.number().int().positive(),
      /** Path on the server: /v1/drivers/bundles/<sha256>. */
      path: z.string(),
    })
    .nullable(),
});
export type DriversAnswer = z.infer<typeof DriversAnswer>;

/**
 * Devices the loader leaves without a driver, as provisioning needs none of them: display (0x03) and
 * multimedia (0x04), whose DRM stack would take the console over and cost seconds to load; bridges
 * (0x06: host, ISA/LPC and "other" chipset functions, whose drivers are EDAC and power management) and
 * SMBus controllers (0x0c05). Asking for the chipset's drivers cost every boot a server round trip and a
 * module load (~0.9 s under TCG for QEMU's PIIX4 function, i2c_piix4) that reached no disk or NIC.
 */
export function leftWithoutDriver(classCode: string): boolean {
  return /^0x0[346]|^0x0c05/.test(classCode);
}

/** Why leftWithoutDriver leaves a device without one: for the machine's driver report. */
export const LEFT_WITHOUT_DRIVER_REASON =
  "the loader leaves display, multimedia, bridge and SMBus devices without a driver: provisioning needs none of them";

/** Where the driver bound to a PCI device came from. */
export const DriverSource = z.enum(["initramfs", "on-demand", "built-in"]);
export type DriverSource = z.infer<typeof DriverSource>;

export const PciDevice = z.strictObject({
  /** /sys/bus/pci/devices/<address>, e.g. 0000:00:04.0. */
  address: z.string(),
  /** …/vendor, …/device, …/class as the kernel prints them: "0x1000", "0x0060", "0x010400". */
  vendorId: z.string(),
  deviceId: z.string(),
  classCode: z.string(),
  modalias: z.string(),
  /** The driver bound to it: basename of …/driver; null when none. */
  driver: z.string().nullable(),
  /** The module behind that driver (…/driver/module), null for a built-in driver or none. */
  module: z.string().nullable(),
  source: DriverSource.nullable(),
});
export type PciDevice = z.infer<typeof PciDevice>;

/** What the loader did about drivers before it took the inventory (absent from inventories before). */
export const DriverReport = z.strictObject({
  kernel: z.string(),
  /** Devices with no driver after the initramfs's own coldplug, by modalias, and the modules claiming them. */
  asked: z.array(z.strictObject({ modalias: z.string(), modules: z.array(z.string()) })),
  bundleSha256: z.string().nullable(),
  /** Modules loaded from the bundle, in load order. */
  loaded: z.array(z.string()),
  failures: z.array(z.strictObject({ module: z.string(), message: z.string() })),
  /** Why the loader could not ask or fetch (server unreachable, sha256 mismatch twice…); null when it could. */
  error: z.string().nullable(),
  /** From the request to the modules loaded and the devices settled. */
  elapsedMs: z.number().int().nonnegative(),
});
export type DriverReport = z.infer<typeof DriverReport>;

/** One PCI device as `bootwright drivers <machine>` shows it: what claims it, or why nothing does. */
export const DeviceDriverRow = z.strictObject({
  address: z.string(),
  vendorId: z.string(),
  deviceId: z.string(),
  classCode: z.string(),
  /** The PCI base class in words: storage, network, display, bridge… */
  kind: z.string(),
  driver: z.string().nullable(),
  module: z.string().nullable(),
  source: DriverSource.nullable(),
  /** Why no driver claims it; null when one does. */
  reason: z.string().nullable(),
});
export type DeviceDriverRow = z.infer<typeof DeviceDriverRow>;

export const MachineDrivers = z.strictObject({
  machineId: z.string(),
  kernel: z.string().nullable(),
  devices: z.array(DeviceDriverRow),
  /** Modules sent on demand and loaded, and those that failed with the kernel's reason. */
  loaded: z.array(z.string()),
  failures: z.array(z.strictObject({ module: z.string(), message: z.string() })),
});
export type MachineDrivers = z.infer<typeof MachineDrivers>;

/** The difference list's part for machines with a storage or network controller no driver claims. */
export const DriverDifference = z.strictObject({
  machineId: z.string(),
  devices: z.array(DeviceDriverRow),
});
export type DriverDifference = z.infer<typeof DriverDifference>;
