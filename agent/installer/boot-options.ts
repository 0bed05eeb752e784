// The machine's UEFI boot options as they are now: BootOrder, BootCurrent, and each Boot#### classed
// network / disk / firmware (efi-boot.ts), with the machine's own disks and NICs from sysfs to class
// OVMF's bare PciRoot/Pci entries. Read by the uefi-vars plugin and by the loader's disk boot.
import { join } from "node:path";
import { readDisks } from "../inventory/disks.js";
import { devicePath, listDir } from "../inventory/sysfs.js";
import {
  bootName,
  classifyLoadOption,
  describeDevicePath,
  efivarData,
  parseBootNumbers,
  parseLoadOption,
  pciChainOfSysfs,
  type BootClass,
} from "./efi-boot.js";
import { GLOBAL_GUID, readEfivar } from "./efivarfs.js";

/** PCI function chain → what it is, from the machine's disks and NICs in sysfs. */
async function pciKinds(root: string): Promise<Map<string, "disk" | "network">> {
  const kinds = new Map<string, "disk" | "network">();
  const add = (chain: string | undefined, kind: "disk" | "network"): void => {
    if (chain === undefined) return;
    // A chain that is both (never on sane hardware) stays unknown.
    if (kinds.has(chain) && kinds.get(chain) !== kind) kinds.delete(chain);
    else kinds.set(chain, kind);
  };
  for (const disk of await readDisks(root))
    add(pciChainOfSysfs((await devicePath(root, join(root, "sys/block", disk.name))) ?? ""), "disk");
  for (const nic of await listDir(join(root, "sys/class/net")))
    add(pciChainOfSysfs((await devicePath(root, join(root, "sys/class/net", nic))) ?? ""), "network");
  return kinds;
}

/** BootOrder, BootCurrent, BootNext…: little-endian option numbers; undefined when the variable is unset. */
export async function readGlobalNumbers(root: string, name: string): Promise<number[] | undefined> {
  const file = await readEfivar(root, name, GLOBAL_GUID);
  return file ? parseBootNumbers(efivarData(file)) : undefined;
}

export interface BootOptionReport {
  number: number;
  option: string;
  description: string;
  class: BootClass;
  active: boolean;
  path: string;
}

/** The options named in `order`, classed; a number with no Boot#### variable is reported "(missing)". */
export async function readBootOptions(root: string, order: readonly number[]): Promise<BootOptionReport[]> {
  const kinds = await pciKinds(root);
  const options: BootOptionReport[] = [];
  for (const n of order) {
    const file = await readEfivar(root, bootName(n), GLOBAL_GUID);
    if (!file) {
      options.push({
        number: n,
        option: bootName(n),
        description: "(missing)",
        class: "other",
        active: false,
        path: "",
      });
      continue;
    }
    const option = parseLoadOption(efivarData(file));
    options.push({
      number: n,
      option: bootName(n),
      description: option.description,
      class: classifyLoadOption(option, kinds),
      active: (option.attributes & 1) === 1,
      path: describeDevicePath(option.nodes),
    });
  }
  return options;
}
