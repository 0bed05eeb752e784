// Load options, their classes and the BootOrder a plan asks for, on the Boot#### variables of a real
// OVMF (fixtures/README.md): NIC at PCI 00:02.0, virtio-blk disk at 00:03.0.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bootName,
  bootNextFor,
  classifyLoadOption,
  describeDevicePath,
  efivarData,
  efivarFile,
  encodeBootNumbers,
  NV_BS_RT,
  parseBootNumbers,
  parseLoadOption,
  pciChainOfSysfs,
  reorderBootOrder,
  type BootClass,
} from "./efi-boot.js";

const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/ovmf-boot-options.json", import.meta.url), "utf8"),
) as { variables: Record<string, string> };
const variable = (name: string): Buffer => Buffer.from(fixture.variables[name] ?? "", "hex");
const OVMF_PCI = new Map<string, "disk" | "network">([
  ["03.0", "disk"],
  ["02.0", "network"],
]);
const order = parseBootNumbers(variable("BootOrder"));
const options = new Map(order.map((n) => [n, parseLoadOption(variable(bootName(n)))]));
const classes = new Map<number, BootClass>(
  [...options].map(([n, option]) => [n, classifyLoadOption(option, OVMF_PCI)]),
);

describe("OVMF's boot options", () => {
  it("decodes BootOrder and every option's description and device path", () => {
    expect(order).toEqual([2, 3, 4, 5, 6, 1, 0, 7]);
    const described = [...options].map(([n, o]) => [bootName(n), o.description, describeDevicePath(o.nodes)]);
    expect(described).toEqual([
      ["Boot0002", "UEFI PXEv4 (MAC:525400C00002)", "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400c00002)"],
      ["Boot0003", "UEFI PXEv4 (MAC:525400C00002) 2", "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400c00002)/IPv4()"],
      ["Boot0004", "UEFI PXEv6 (MAC:525400C00002)", "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400c00002)/IPv6()"],
      [
        "Boot0005",
        "UEFI HTTPv4 (MAC:525400C00002)",
        "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400c00002)/IPv4()/Uri()",
      ],
      [
        "Boot0006",
        "UEFI HTTPv6 (MAC:525400C00002)",
        "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400c00002)/IPv6()/Uri()",
      ],
      ["Boot0001", "UEFI Misc Device", "PciRoot(0x0)/Pci(0x3,0x0)"],
      ["Boot0000", "UiApp", "Fv()/FvFile()"],
      ["Boot0007", "EFI Internal Shell", "Fv()/FvFile()"],
    ]);
    expect(options.get(0)?.attributes).toBe(0x109); // active, hidden, category app
  });

  it("classes the NIC's options as network by their MAC node, setup and shell as firmware", () => {
    expect(Object.fromEntries([...classes].map(([n, c]) => [bootName(n), c]))).toEqual({
      Boot0002: "network",
      Boot0003: "network",
      Boot0004: "network",
      Boot0005: "network",
      Boot0006: "network",
      Boot0001: "disk",
      Boot0000: "firmware",
      Boot0007: "firmware",
    });
  });

  it("needs the PCI map for OVMF's virtio-blk entry: its path names no disk bus", () => {
    const misc = options.get(1);
    if (!misc) throw new Error("no Boot0001");
    expect(classifyLoadOption(misc, new Map())).toBe("other");
    expect(classifyLoadOption(misc, new Map([["03.0", "network"]]))).toBe("network");
  });
});

describe("reorderBootOrder / bootNextFor", () => {
  it("disk-first moves the disk in front and keeps the rest in order", () => {
    expect(reorderBootOrder(order, classes, "disk-first")).toEqual([1, 2, 3, 4, 5, 6, 0, 7]);
  });

  it("network-first moves the network options in front, in their order", () => {
    expect(reorderBootOrder([1, 0, 2, 7, 3], classes, "network-first")).toEqual([2, 3, 1, 0, 7]);
    expect(reorderBootOrder(order, classes, "network-first")).toEqual(order);
  });

  it("leaves an order without the wanted class as it is", () => {
    expect(reorderBootOrder([0, 7], classes, "disk-first")).toEqual([0, 7]);
  });

  it("sets BootNext to the network option this boot came from, only when the disk goes first", () => {
    expect(bootNextFor("disk-first", 2, classes)).toBe(2);
    expect(bootNextFor("network-first", 2, classes)).toBeUndefined();
    expect(bootNextFor("disk-first", 1, classes)).toBeUndefined();
    expect(bootNextFor("disk-first", undefined, classes)).toBeUndefined();
  });
});

describe("efivarfs files and device paths", () => {
  it("an efivarfs file is 4 bytes of attributes, then the data", () => {
    const file = efivarFile(NV_BS_RT, encodeBootNumbers([1, 2, 0x1000]));
    expect(file.toString("hex")).toBe("07000000" + "0100" + "0200" + "0010");
    expect(parseBootNumbers(efivarData(file))).toEqual([1, 2, 0x1000]);
  });

  it("reads the PCI hops of a sysfs path, behind bridges too", () => {
    expect(pciChainOfSysfs("pci0000:00/0000:00:03.0/virtio1/block/vda")).toBe("03.0");
    expect(pciChainOfSysfs("pci0000:00/0000:00:1c.4/0000:03:00.1/nvme/nvme0/nvme0n1")).toBe("1c.4/00.1");
    expect(pciChainOfSysfs("virtual/net/lo")).toBeUndefined();
  });

  it("classes a partition (HD) path as disk and an HTTP boot URI as network", () => {
    const path = (...nodes: number[][]): Buffer =>
      Buffer.concat([
        ...nodes.map(([type = 0, sub = 0, ...data]) => {
          const node = Buffer.alloc(4 + data.length);
          node.writeUInt8(type, 0);
          node.writeUInt8(sub, 1);
          node.writeUInt16LE(4 + data.length, 2);
          Buffer.from(data).copy(node, 4);
          return node;
        }),
        Buffer.from([0x7f, 0xff, 4, 0]),
      ]);
    const option = (description: string, devicePath: Buffer): Buffer => {
      const head = Buffer.alloc(6);
      head.writeUInt32LE(1, 0);
      head.writeUInt16LE(devicePath.length, 4);
      return Buffer.concat([head, Buffer.from(`${description}\0`, "utf16le"), devicePath]);
    };
    const hd = parseLoadOption(
      option("debian", path([4, 1, ...new Array<number>(38).fill(0)], [4, 4, 0x41, 0, 0, 0])),
    );
    expect(classifyLoadOption(hd, new Map())).toBe("disk");
    const uri = parseLoadOption(option("HTTP", path([3, 24, ...Buffer.from("http://x/")])));
    expect(classifyLoadOption(uri, new Map())).toBe("network");
    expect(describeDevicePath(uri.nodes)).toBe("Uri(http://x/)");
  });
});
