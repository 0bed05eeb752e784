// The pure half of the uefi-vars plugin: decoding UEFI load options (Boot####) and their device paths,
// classing each as network / disk / firmware, and computing the BootOrder a plan asks for.
// References: UEFI spec 2.10 §3.1.3 (EFI_LOAD_OPTION), §3.3 (BootOrder, BootNext, BootCurrent) and
// §10.3 (device path nodes).

export type BootClass = "network" | "disk" | "firmware" | "other";
export type BootOrderWish = "disk-first" | "network-first";

export interface DevicePathNode {
  type: number;
  subType: number;
  data: Buffer;
}

export interface LoadOption {
  /** LOAD_OPTION_ACTIVE is bit 0: the firmware skips inactive options. */
  attributes: number;
  description: string;
  nodes: DevicePathNode[];
}

/** The data of an efivarfs file: the first 4 bytes are the variable's attributes (Documentation/filesystems/efivarfs.rst). */
export function efivarData(file: Uint8Array): Buffer {
  return Buffer.from(file.buffer, file.byteOffset + 4, Math.max(0, file.byteLength - 4));
}

/** NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS: what BootOrder and our own variables carry. */
export const NV_BS_RT = 0x07;

/** An efivarfs file's bytes: attributes, then data. */
export function efivarFile(attributes: number, data: Uint8Array): Buffer {
  const buf = Buffer.alloc(4 + data.byteLength);
  buf.writeUInt32LE(attributes, 0);
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, 4);
  return buf;
}

/** "Boot0001" for 1. */
export function bootName(option: number): string {
  return `Boot${option.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** BootOrder / BootCurrent / BootNext data: little-endian UINT16 option numbers. */
export function parseBootNumbers(data: Uint8Array): number[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const numbers: number[] = [];
  for (let i = 0; i + 1 < buf.length; i += 2) numbers.push(buf.readUInt16LE(i));
  return numbers;
}

export function encodeBootNumbers(numbers: readonly number[]): Buffer {
  const buf = Buffer.alloc(numbers.length * 2);
  numbers.forEach((n, i) => buf.writeUInt16LE(n, i * 2));
  return buf;
}

/** Decodes EFI_LOAD_OPTION: attributes, path list length, NUL-terminated UCS-2 description, device path. */
export function parseLoadOption(data: Uint8Array): LoadOption {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 8) throw new Error(`load option of ${buf.length} bytes is too short`);
  const attributes = buf.readUInt32LE(0);
  const pathBytes = buf.readUInt16LE(4);
  let end = 6;
  while (end + 1 < buf.length && buf.readUInt16LE(end) !== 0) end += 2;
  const description = buf.toString("utf16le", 6, end);
  const pathStart = end + 2;
  const path = buf.subarray(pathStart, Math.min(buf.length, pathStart + pathBytes));
  return { attributes, description, nodes: parseDevicePath(path) };
}

/** The nodes of the first device path instance, up to its End node. */
export function parseDevicePath(bytes: Buffer): DevicePathNode[] {
  const nodes: DevicePathNode[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    const type = bytes[at] ?? 0;
    const subType = bytes[at + 1] ?? 0;
    const length = bytes.readUInt16LE(at + 2);
    if (type === 0x7f || length < 4) break;
    nodes.push({ type, subType, data: bytes.subarray(at + 4, at + length) });
    at += length;
  }
  return nodes;
}

const HARDWARE = 0x01;
const ACPI = 0x02;
const MESSAGING = 0x03;
const MEDIA = 0x04;

/** Messaging sub-types that mean a network boot: MAC, IPv4, IPv6, URI (HTTP boot). */
const NETWORK_MESSAGING = new Set([11, 12, 13, 24]);
/**
 * Messaging sub-types that mean a storage device: ATAPI, SCSI, Fibre Channel, SATA, Fibre Channel Ex,
 * SAS Ex, NVMe, UFS, SD, eMMC.
 */
const DISK_MESSAGING = new Set([1, 2, 3, 18, 21, 22, 23, 25, 26, 29]);

/** "04.0/00.0": the PCI device.function hops of a device path after its root bridge. */
export function pciChainOfPath(nodes: readonly DevicePathNode[]): string | undefined {
  const hops = nodes
    .filter((n) => n.type === HARDWARE && n.subType === 1 && n.data.length >= 2)
    .map((n) => `${(n.data[1] ?? 0).toString(16).padStart(2, "0")}.${(n.data[0] ?? 0).toString(16)}`);
  return hops.length ? hops.join("/") : undefined;
}

/** The same chain from a sysfs device path: "pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/…" → "1c.0/00.0". */
export function pciChainOfSysfs(devicePath: string): string | undefined {
  const hops = devicePath
    .split("/")
    .map((part) => /^[0-9a-f]{4}:[0-9a-f]{2}:([0-9a-f]{2})\.([0-7])$/i.exec(part))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${(m[1] ?? "").toLowerCase()}.${m[2] ?? ""}`);
  return hops.length ? hops.join("/") : undefined;
}

/**
 * What a load option boots. Its device path decides when it says (a MAC/IP/URI node: network; a disk
 * bus or a hard-drive partition: disk; a firmware volume file: the firmware's own setup or shell).
 * OVMF's entry for a virtio-blk disk ("UEFI Misc Device") is only PciRoot/Pci: then the PCI function
 * is looked up among the machine's disks and NICs (`pciKinds`, from sysfs). The description is the
 * last resort.
 */
export function classifyLoadOption(
  option: LoadOption,
  pciKinds: ReadonlyMap<string, "disk" | "network">,
): BootClass {
  const nodes = option.nodes;
  if (nodes.some((n) => n.type === MESSAGING && NETWORK_MESSAGING.has(n.subType))) return "network";
  if (nodes.some((n) => n.type === MEDIA && (n.subType === 6 || n.subType === 7))) return "firmware";
  if (
    nodes.some(
      (n) => (n.type === MESSAGING && DISK_MESSAGING.has(n.subType)) || (n.type === MEDIA && n.subType === 1),
    )
  )
    return "disk";
  const chain = pciChainOfPath(nodes);
  const kind = chain === undefined ? undefined : pciKinds.get(chain);
  if (kind) return kind;
  if (/\b(pxe|http|ipxe|network|lan)\b/i.test(option.description)) return "network";
  if (/\b(hard ?disk|hard ?drive|disk|nvme|sata|ssd|hdd|sas|raid)\b/i.test(option.description)) return "disk";
  return "other";
}

/**
 * The BootOrder a plan asks for: the options of the class it puts first move to the front, in their
 * current relative order; everything else keeps its order behind them. Unchanged when no option of
 * that class is in the order (the caller reports that).
 */
export function reorderBootOrder(
  order: readonly number[],
  classes: ReadonlyMap<number, BootClass>,
  wish: BootOrderWish,
): number[] {
  const first: BootClass = wish === "disk-first" ? "disk" : "network";
  const front = order.filter((n) => classes.get(n) === first);
  return [...front, ...order.filter((n) => classes.get(n) !== first)];
}

/**
 * BootNext for the reboot right after the install: when the plan puts the disk first and this boot came
 * from the network, the next boot should still come back to the network, so the server decides it
 * (boot the disk it just wrote, or retry an install that failed after this step). Later boots follow
 * BootOrder. Undefined when BootOrder alone already does that.
 */
export function bootNextFor(
  wish: BootOrderWish,
  bootCurrent: number | undefined,
  classes: ReadonlyMap<number, BootClass>,
): number | undefined {
  if (wish !== "disk-first" || bootCurrent === undefined) return undefined;
  return classes.get(bootCurrent) === "network" ? bootCurrent : undefined;
}

/** A short text form of a device path for reports, e.g. "PciRoot(0x0)/Pci(0x3,0x0)/MAC(525400e10002)". */
export function describeDevicePath(nodes: readonly DevicePathNode[]): string {
  return nodes
    .map((n) => {
      const d = n.data;
      if (n.type === ACPI && n.subType === 1 && d.length >= 8)
        return `PciRoot(0x${d.readUInt32LE(4).toString(16)})`;
      if (n.type === HARDWARE && n.subType === 1 && d.length >= 2)
        return `Pci(0x${(d[1] ?? 0).toString(16)},0x${(d[0] ?? 0).toString(16)})`;
      if (n.type === MESSAGING && n.subType === 11 && d.length >= 6)
        return `MAC(${d.subarray(0, 6).toString("hex")})`;
      if (n.type === MESSAGING && n.subType === 12) return "IPv4()";
      if (n.type === MESSAGING && n.subType === 13) return "IPv6()";
      if (n.type === MESSAGING && n.subType === 24) return `Uri(${d.toString("latin1")})`;
      if (n.type === MEDIA && n.subType === 1 && d.length >= 4) return `HD(${d.readUInt32LE(0)})`;
      if (n.type === MEDIA && n.subType === 4) return `File(${d.toString("utf16le").replace(/\0+$/, "")})`;
      if (n.type === MEDIA && n.subType === 6) return "FvFile()";
      if (n.type === MEDIA && n.subType === 7) return "Fv()";
      return `Node(${n.type},${n.subType})`;
    })
    .join("/");
}
