// gatherFullInventory on a fake root: a sysfs tree with the links the kernel makes (driver, device),
// captured /proc/cpuinfo and a captured SMBIOS table; and the pure helpers it uses.
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Inventory } from "../../protocol/index.js";
import { diskKind, lastPciAddress, parseCpuTopology } from "./details-parsers.js";
import { gatherFullInventory } from "./full.js";

const FIXTURES = fileURLToPath(new URL("fixtures", import.meta.url));
const MAC = "52:54:00:c0:00:02";
let root: string;

async function attr(path: string, value: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), `${value}\n`);
}

async function link(path: string, target: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await symlink(target, join(root, path));
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "bootwright-full-"));
  await attr("sys/class/dmi/id/sys_vendor", "Acme");
  // NIC: /sys/class/net/eth0/device → the virtio device under its PCI function, as the kernel links it.
  const nicDev = "sys/devices/pci0000:00/0000:00:03.0/virtio0";
  await mkdir(join(root, nicDev, "net/eth0"), { recursive: true });
  await link("sys/bus/virtio/drivers/virtio_net/.keep", "/dev/null");
  await link(`${nicDev}/driver`, "../../../../bus/virtio/drivers/virtio_net");
  await attr(`${nicDev}/net/eth0/type`, "1");
  await attr(`${nicDev}/net/eth0/address`, MAC);
  await attr(`${nicDev}/net/eth0/carrier`, "1");
  await attr(`${nicDev}/net/eth0/speed`, "-1");
  await link(`${nicDev}/net/eth0/device`, "../../../virtio0");
  await link("sys/class/net/eth0", `../../devices/pci0000:00/0000:00:03.0/virtio0/net/eth0`);
  // NVMe disk.
  const nvme = "sys/devices/pci0000:00/0000:00:05.0/nvme/nvme0";
  await attr(`${nvme}/serial`, "NV1");
  await attr(`${nvme}/model`, "QEMU NVMe Ctrl");
  await attr(`${nvme}/nvme0n1/size`, "32768");
  await attr(`${nvme}/nvme0n1/wwid`, "nvme.1b36-4e5631");
  await attr(`${nvme}/nvme0n1/queue/rotational`, "0");
  await link(`${nvme}/nvme0n1/device`, "..");
  await link("sys/block/nvme0n1", "../devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1");
  // PCI functions: an NVMe controller and a RAID controller.
  await attr("sys/bus/pci/devices/0000:00:05.0/class", "0x010802");
  await attr("sys/bus/pci/devices/0000:00:05.0/vendor", "0x1b36");
  await attr("sys/bus/pci/devices/0000:00:05.0/device", "0x0010");
  await attr("sys/bus/pci/devices/0000:3b:00.0/class", "0x010400");
  await attr("sys/bus/pci/devices/0000:3b:00.0/vendor", "0x1000");
  await attr("sys/bus/pci/devices/0000:3b:00.0/device", "0x005d");
  await attr("sys/bus/pci/devices/0000:00:03.0/class", "0x020000");
  await mkdir(join(root, "sys/firmware/efi"), { recursive: true });
  await mkdir(join(root, "sys/firmware/dmi/tables"), { recursive: true });
  for (const file of ["smbios_entry_point", "DMI"])
    await copyFile(
      join(FIXTURES, "smbios/bios-full-2nic-nvme", file),
      join(root, "sys/firmware/dmi/tables", file),
    );
  await mkdir(join(root, "proc"));
  for (const file of ["cpuinfo", "meminfo"])
    await copyFile(join(FIXTURES, "host-2cpu/proc", file), join(root, "proc", file));
  await attr(
    "run/bootwright/lease-eth0",
    "interface=eth0\nip=10.0.2.15\nmask=24\nrouter=10.0.2.2\ndns=10.0.2.3\nserverid=10.0.2.2",
  );
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("gatherFullInventory", () => {
  it("reads NICs, disks, controllers, firmware type, SMBIOS and the lease into a valid inventory", async () => {
    const inventory = await gatherFullInventory(root, MAC);
    expect(Inventory.safeParse(inventory).success).toBe(true);
    const d = inventory.details;
    expect(d?.firmwareType).toBe("uefi");
    expect(d?.nics).toEqual([
      {
        name: "eth0",
        mac: MAC,
        driver: "virtio_net",
        pciAddress: "0000:00:03.0",
        speedMbps: null,
        carrier: true,
      },
    ]);
    expect(d?.disks).toEqual([
      {
        name: "nvme0n1",
        sizeBytes: 32768 * 512,
        model: "QEMU NVMe Ctrl",
        serial: "NV1",
        wwn: "nvme.1b36-4e5631",
        kind: "nvme",
        rotational: false,
        busPath: "pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1",
        pciAddress: "0000:00:05.0",
      },
    ]);
    expect(d?.storageControllers.map((c) => [c.pciAddress, c.raid])).toEqual([
      ["0000:00:05.0", false],
      ["0000:3b:00.0", true],
    ]);
    expect(d?.smbios?.baseboard?.locationInChassis).toBe("Slot 7");
    expect(d?.smbios?.chassis?.assetTag).toBe("ASSET-0042");
    expect(d?.memory.installedBytes).toBe(2 * 2 ** 30);
    expect(d?.cpu).toMatchObject({ vendor: "AuthenticAMD", sockets: 1, cores: 2, threads: 2 });
    expect(d?.network).toEqual({
      interface: "eth0",
      address: "10.0.2.15",
      prefixLength: 24,
      gateway: "10.0.2.2",
      dhcpServer: "10.0.2.2",
      dns: ["10.0.2.3"],
      lldpNeighbour: null,
    });
  });

  it("reports a corrupt SMBIOS table as a typed error, not a crash", async () => {
    await writeFile(join(root, "sys/firmware/dmi/tables/DMI"), Uint8Array.from([0, 0x20, 0, 0]));
    const inventory = await gatherFullInventory(root, MAC);
    expect(inventory.details?.smbios).toBeNull();
    expect(inventory.details?.smbiosError).toMatchObject({ code: "table_shorter_than_declared", offset: 4 });
  });
});

describe("pure helpers", () => {
  it("parseCpuTopology counts sockets, cores and threads", () => {
    const block = (p: number, socket: number, core: number): string =>
      `processor\t: ${p}\nvendor_id\t: GenuineIntel\nphysical id\t: ${socket}\ncore id\t\t: ${core}\nflags\t\t: sse avx2 aes\n`;
    const text = [block(0, 0, 0), block(1, 0, 0), block(2, 1, 0), block(3, 1, 1)].join("\n");
    expect(parseCpuTopology(text)).toEqual({
      vendor: "GenuineIntel",
      sockets: 2,
      cores: 3,
      threads: 4,
      flags: ["aes", "avx2", "sse"],
    });
  });

  it("lastPciAddress and diskKind", () => {
    expect(lastPciAddress("pci0000:00/0000:00:1c.0/0000:3b:00.0/host0/target0:0:0/0:0:0:0/block/sda")).toBe(
      "0000:3b:00.0",
    );
    expect(lastPciAddress("virtual/block/loop0")).toBeNull();
    expect(diskKind("vda", "/pci0000:00/0000:00:04.0/virtio1/block/vda", true)).toBe("virtual");
    expect(diskKind("sda", "/pci0000:00/0000:00:1f.2/ata1/host0/block/sda", true)).toBe("hdd");
    expect(diskKind("sda", "/pci0000:00/0000:00:1f.2/ata1/host0/block/sda", false)).toBe("ssd");
  });
});
