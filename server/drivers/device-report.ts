// What claims each PCI device of a machine, and why nothing does, from its inventory (pure): for
// `bootwright drivers <machine>` and the difference list's drivers part.
import {
  LEFT_WITHOUT_DRIVER_REASON,
  leftWithoutDriver,
  type DeviceDriverRow,
  type Inventory,
  type MachineDrivers,
} from "../../protocol/index.js";

/** PCI base classes (the class code's first byte) by name; the PCI SIG's Code and ID Assignment list. */
const PCI_CLASSES: Record<string, string> = {
  "00": "unclassified",
  "01": "storage",
  "02": "network",
  "03": "display",
  "04": "multimedia",
  "05": "memory",
  "06": "bridge",
  "07": "communication",
  "08": "system",
  "09": "input",
  "0a": "docking",
  "0b": "processor",
  "0c": "serial bus",
  "0d": "wireless",
  "0e": "intelligent i/o",
  "0f": "satellite",
  "10": "encryption",
  "11": "signal processing",
  "12": "accelerator",
  "13": "instrumentation",
  ff: "other",
};

export function pciClassName(classCode: string): string {
  return PCI_CLASSES[classCode.replace(/^0x/, "").slice(0, 2).toLowerCase()] ?? "other";
}

/** Classes whose missing driver keeps a machine from installing: it has no disk or no network. */
const NEEDED = new Set(["storage", "network"]);

export function machineDrivers(machineId: string, inventory: Inventory | null): MachineDrivers {
  const details = inventory?.details;
  const report = details?.drivers;
  const asked = new Map((report?.asked ?? []).map((device) => [device.modalias, device.modules]));
  const devices = (details?.pciDevices ?? []).map((device): DeviceDriverRow => {
    const row = {
      address: device.address,
      vendorId: device.vendorId,
      deviceId: device.deviceId,
      classCode: device.classCode,
      kind: pciClassName(device.classCode),
      driver: device.driver,
      module: device.module,
      source: device.source,
    };
    if (device.driver !== null) return { ...row, reason: null };
    return {
      ...row,
      reason: leftWithoutDriver(device.classCode)
        ? LEFT_WITHOUT_DRIVER_REASON
        : whyNoDriver(device.modalias, asked, report),
    };
  });
  return {
    machineId,
    kernel: report?.kernel ?? null,
    devices,
    loaded: report?.loaded ?? [],
    failures: report?.failures ?? [],
  };
}

function whyNoDriver(
  modalias: string,
  asked: Map<string, string[]>,
  report: NonNullable<Inventory["details"]>["drivers"],
): string {
  if (!report) return "the loader did not ask the server for drivers (no report in this inventory)";
  const candidates = asked.get(modalias);
  if (candidates === undefined)
    return report.error ? `drivers not fetched: ${report.error}` : "not asked about (it had no modalias)";
  if (candidates.length === 0) return `no module of kernel ${report.kernel} claims ${modalias}`;
  const failed = report.failures.filter((failure) => candidates.includes(failure.module));
  if (failed.length)
    return failed.map((failure) => `${failure.module} failed to load: ${failure.message}`).join("; ");
  if (report.error) return `drivers not fetched: ${report.error}`;
  return `${candidates.join(", ")} loaded but did not bind it (its probe refused the device: see the console's dmesg)`;
}

/** The storage and network controllers of a machine that nothing claims; [] when all are claimed. */
export function missingDrivers(machineId: string, inventory: Inventory | null): DeviceDriverRow[] {
  return machineDrivers(machineId, inventory).devices.filter(
    (device) => device.driver === null && NEEDED.has(device.kind),
  );
}
