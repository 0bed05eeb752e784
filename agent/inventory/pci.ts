// Every PCI function from /sys/bus/pci/devices: ids, class, modalias, and the driver bound to it (the
// `driver` link) with the module behind it (`driver/module`; absent for a driver built into the kernel).
// The loader asks the server for drivers for those with none; the inventory records them all.
import { join } from "node:path";
import type { DriverSource, PciDevice } from "../../protocol/index.js";
import { linkName, listDir, readText } from "./sysfs.js";

/** `onDemand`: the modules the loader loaded from the server's bundle (the rest came with the initramfs). */
export async function readPciDevices(
  root: string,
  onDemand: ReadonlySet<string> = new Set(),
): Promise<PciDevice[]> {
  const base = join(root, "sys/bus/pci/devices");
  const addresses = (await listDir(base)).sort();
  return Promise.all(
    addresses.map(async (address) => {
      const dir = join(base, address);
      const [vendorId, deviceId, classCode, modalias, driver, module] = await Promise.all([
        readText(join(dir, "vendor")),
        readText(join(dir, "device")),
        readText(join(dir, "class")),
        readText(join(dir, "modalias")),
        linkName(join(dir, "driver")),
        linkName(join(dir, "driver/module")),
      ]);
      const source: DriverSource | null =
        driver === null
          ? null
          : module === null
            ? "built-in"
            : onDemand.has(module)
              ? "on-demand"
              : "initramfs";
      return {
        address,
        vendorId: vendorId ?? "",
        deviceId: deviceId ?? "",
        classCode: classCode ?? "",
        modalias: modalias ?? "",
        driver,
        module,
        source,
      };
    }),
  );
}
