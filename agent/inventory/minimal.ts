// Gathers the minimal inventory from /sys and /proc. Reads files directly rather than through
// systeminformation: in our initramfs this is all we need, and it runs in milliseconds.
import { join } from "node:path";
import { BootwrightError, type FailureContext } from "../../protocol/failure.js";
import { normalizeMac, type Inventory, type MacAddress, type NicInfo } from "../../protocol/index.js";
import { parseCpuinfo, parseMemTotalBytes } from "./proc-parsers.js";
import { readDisks } from "./disks.js";
import { listDir, readText } from "./sysfs.js";

/** Ethernet NICs with a MAC (loopback, tunnels and interfaces without one are skipped). */
export async function readNics(root: string): Promise<NicInfo[]> {
  const nics: NicInfo[] = [];
  for (const name of await listDir(join(root, "sys/class/net"))) {
    const dir = join(root, "sys/class/net", name);
    // type 1 = ARPHRD_ETHER (include/uapi/linux/if_arp.h); loopback is 772.
    if ((await readText(join(dir, "type"))) !== "1") continue;
    const mac = normalizeMac((await readText(join(dir, "address"))) ?? "");
    if (mac && mac !== "00:00:00:00:00:00") nics.push({ name, mac });
  }
  return nics;
}

export class InventoryError extends BootwrightError<"inventory_unreadable"> {
  constructor(message: string, context: FailureContext<"inventory_unreadable">) {
    super("inventory_unreadable", message, context);
  }
}

export async function gatherMinimalInventory(root: string, bootMac: MacAddress): Promise<Inventory> {
  const dmi = join(root, "sys/class/dmi/id");
  const [manufacturer, product, serial, uuid, cpuinfo, meminfo, nics, disks] = await Promise.all([
    readText(join(dmi, "sys_vendor")),
    readText(join(dmi, "product_name")),
    readText(join(dmi, "product_serial")),
    readText(join(dmi, "product_uuid")),
    readText(join(root, "proc/cpuinfo")),
    readText(join(root, "proc/meminfo")),
    readNics(root),
    readDisks(root),
  ]);
  const cpu = parseCpuinfo(cpuinfo ?? "");
  const memoryBytes = parseMemTotalBytes(meminfo ?? "");
  if (cpu.logicalCount === 0) {
    const path = join(root, "proc/cpuinfo");
    throw new InventoryError(`no processor found in ${path}`, { path });
  }
  if (memoryBytes === undefined) {
    const path = join(root, "proc/meminfo");
    throw new InventoryError(`no MemTotal in ${path}`, { path });
  }
  return {
    bootMac,
    system: { manufacturer, product, serial, uuid: uuid?.toLowerCase() ?? null },
    cpu: { model: cpu.model, logicalCount: cpu.logicalCount },
    memoryBytes,
    nics,
    disks,
  };
}
