// gatherMinimalInventory on a fake root: a sysfs tree built here plus the captured /proc of host-2cpu.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Inventory } from "../../protocol/index.js";
import { BOOT_MEDIA_NOTE, readDisks } from "./disks.js";
import { gatherMinimalInventory, readNics } from "./minimal.js";

const FIXTURE_PROC = fileURLToPath(new URL("fixtures/host-2cpu/proc", import.meta.url));
const BOOT_MAC = "52:54:00:12:34:56";

let root: string;

/** Writes a sysfs attribute the way the kernel shows it: the value and a newline. */
async function attr(path: string, value: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), `${value}\n`);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "bootwright-inventory-"));
  await attr("sys/class/dmi/id/sys_vendor", "QEMU");
  await attr("sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)");
  await attr("sys/class/dmi/id/product_serial", "SN-0042");
  await attr("sys/class/dmi/id/product_uuid", "4C4C4544-0042-3510-8051-B7C04F4E3132");
  await attr("sys/class/net/lo/type", "772");
  await attr("sys/class/net/lo/address", "00:00:00:00:00:00");
  await attr("sys/class/net/eth0/type", "1");
  await attr("sys/class/net/eth0/address", "52:54:00:12:34:56");
  await attr("sys/block/vda/size", "20971520");
  await attr("sys/block/loop0/size", "1024");
  await mkdir(join(root, "proc"));
  await copyFile(join(FIXTURE_PROC, "cpuinfo"), join(root, "proc/cpuinfo"));
  await copyFile(join(FIXTURE_PROC, "meminfo"), join(root, "proc/meminfo"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("gatherMinimalInventory", () => {
  it("returns exactly the machine's inventory: loop and lo skipped, uuid lower-cased, sectors × 512", async () => {
    const inventory = await gatherMinimalInventory(root, BOOT_MAC);
    // What the server will parse it with.
    expect(Inventory.safeParse(inventory).success).toBe(true);
    expect(inventory).toStrictEqual({
      bootMac: BOOT_MAC,
      system: {
        manufacturer: "QEMU",
        product: "Standard PC (Q35 + ICH9, 2009)",
        serial: "SN-0042",
        uuid: "4c4c4544-0042-3510-8051-b7c04f4e3132",
      },
      cpu: { model: "AMD EPYC", logicalCount: 2 },
      memoryBytes: 24_683_620 * 1024,
      nics: [{ name: "eth0", mac: "52:54:00:12:34:56" }],
      disks: [{ name: "vda", sizeBytes: 20_971_520 * 512 }],
    });
  });

  it("reports missing or empty DMI attributes as null", async () => {
    await rm(join(root, "sys/class/dmi"), { recursive: true });
    await attr("sys/class/dmi/id/sys_vendor", "");
    const inventory = await gatherMinimalInventory(root, BOOT_MAC);
    expect(inventory.system).toEqual({ manufacturer: null, product: null, serial: null, uuid: null });
  });

  it("rejects with InventoryError when meminfo has no MemTotal", async () => {
    await writeFile(join(root, "proc/meminfo"), "MemFree:        23781380 kB\n");
    const failure = gatherMinimalInventory(root, BOOT_MAC);
    await expect(failure).rejects.toMatchObject({
      name: "InventoryError",
      code: "inventory_unreadable",
      context: { path: join(root, "proc/meminfo") },
    });
    await expect(failure).rejects.toThrow(/no MemTotal in .*proc\/meminfo/);
  });

  it("rejects with InventoryError when there is no /proc/cpuinfo", async () => {
    await rm(join(root, "proc/cpuinfo"));
    const failure = gatherMinimalInventory(root, BOOT_MAC);
    await expect(failure).rejects.toMatchObject({ code: "inventory_unreadable" });
    await expect(failure).rejects.toThrow(/no processor found in .*proc\/cpuinfo/);
  });
});

describe("readNics", () => {
  it("lists Ethernet NICs by name with normalised MACs, skipping all-zero MACs and other link types", async () => {
    await attr("sys/class/net/eth1/type", "1");
    await attr("sys/class/net/eth1/address", "52:54:00:AB:CD:EF");
    await attr("sys/class/net/dummy0/type", "1");
    await attr("sys/class/net/dummy0/address", "00:00:00:00:00:00");
    await attr("sys/class/net/ib0/type", "32");
    await attr("sys/class/net/ib0/address", "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:5b:21");
    expect(await readNics(root)).toEqual([
      { name: "eth0", mac: "52:54:00:12:34:56" },
      { name: "eth1", mac: "52:54:00:ab:cd:ef" },
    ]);
  });

  it("is empty when there is no /sys/class/net", async () => {
    await rm(join(root, "sys/class/net"), { recursive: true });
    expect(await readNics(root)).toEqual([]);
  });
});

describe("readDisks", () => {
  it("skips loop, ram, zram, device-mapper, md, optical and floppy devices", async () => {
    for (const name of ["ram0", "zram0", "dm-0", "md0", "sr0", "fd0"])
      await attr(`sys/block/${name}/size`, "8");
    await attr("sys/block/nvme0n1/size", "1000215216");
    await attr("sys/block/sda/size", "0");
    expect(await readDisks(root)).toEqual([
      { name: "nvme0n1", sizeBytes: 1_000_215_216 * 512 },
      { name: "sda", sizeBytes: 0 },
      { name: "vda", sizeBytes: 20_971_520 * 512 },
    ]);
  });

  it("leaves out the rescue media the loader booted from (a USB stick is a disk to the kernel)", async () => {
    await attr("sys/block/sdb/size", "96920");
    await attr(BOOT_MEDIA_NOTE, "sdb");
    expect((await readDisks(root)).map((disk) => disk.name)).toEqual(["vda"]);
  });
});
