// npx tsx test-vm/policy-fixtures.ts: writes server/policy/fixtures/<shape>.json, full inventories built
// from the captured SMBIOS tables (agent/inventory/fixtures/smbios, decoded by our parser) and the rest of
// each VM's shape as its qemu-args.txt gives it (CPUs, memory, NICs, disks). The server's policy tests read
// these JSON files: server/ may not import the agent's parser (eslint.config.js), so the decoding is done here.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { smbiosFacts } from "../agent/inventory/details-parsers.js";
import { parseSmbios } from "../agent/inventory/smbios/index.js";
import { Inventory, type DiskDetails, type NicDetails } from "../protocol/index.js";
import { REPO_ROOT } from "./paths.js";

const SMBIOS_DIR = join(REPO_ROOT, "agent/inventory/fixtures/smbios");
const OUT_DIR = join(REPO_ROOT, "server/policy/fixtures");
const GiB = 2 ** 30;

interface Shape {
  firmwareType: "bios" | "uefi";
  memoryMiB: number;
  cpus: { threads: number; sockets: number; cores: number };
  nics: { mac: string; driver: string; pci: string }[];
  disks: { name: string; sizeBytes: number; kind: DiskDetails["kind"]; pci: string; model: string | null }[];
}

const virtio = (mac: string, pci = "0000:00:03.0"): Shape["nics"][number] => ({
  mac,
  driver: "virtio_net",
  pci,
});

/** Each capture's VM as its qemu-args.txt describes it (disk sizes are the capture's blank images). */
const SHAPES: Record<string, Shape> = {
  "bios-defaults": {
    firmwareType: "bios",
    memoryMiB: 1024,
    cpus: { threads: 2, sockets: 2, cores: 2 },
    nics: [virtio("52:54:00:c0:00:01")],
    disks: [{ name: "vda", sizeBytes: 8 * GiB, kind: "virtual", pci: "0000:00:04.0", model: null }],
  },
  "bios-full-2nic-nvme": {
    firmwareType: "bios",
    memoryMiB: 2048,
    cpus: { threads: 4, sockets: 2, cores: 4 },
    nics: [virtio("52:54:00:c0:00:02"), { mac: "52:54:00:c1:00:02", driver: "e1000", pci: "0000:00:05.0" }],
    disks: [
      { name: "vda", sizeBytes: 8 * GiB, kind: "virtual", pci: "0000:00:04.0", model: null },
      { name: "nvme0n1", sizeBytes: 16 * GiB, kind: "nvme", pci: "0000:00:06.0", model: "QEMU NVMe Ctrl" },
    ],
  },
  "q35-smbios3": {
    firmwareType: "bios",
    memoryMiB: 3072,
    cpus: { threads: 3, sockets: 3, cores: 3 },
    nics: [virtio("52:54:00:c0:00:03", "0000:00:02.0")],
    disks: [],
  },
  "uefi-ovmf": {
    firmwareType: "uefi",
    memoryMiB: 1536,
    cpus: { threads: 2, sockets: 2, cores: 2 },
    nics: [virtio("52:54:00:c0:00:04", "0000:00:02.0")],
    disks: [],
  },
  "bios-big-memory": {
    firmwareType: "bios",
    memoryMiB: 20480,
    cpus: { threads: 8, sockets: 1, cores: 4 },
    nics: [virtio("52:54:00:c0:00:05")],
    disks: [],
  },
};

for (const [name, shape] of Object.entries(SHAPES)) {
  const dir = join(SMBIOS_DIR, name);
  const parsed = parseSmbios(readFileSync(join(dir, "smbios_entry_point")), readFileSync(join(dir, "DMI")));
  if (!parsed.ok) throw new Error(`${name}: ${parsed.error.message}`);
  const t = parsed.value;
  const uuid = /-uuid (\S+)/.exec(readFileSync(join(dir, "qemu-args.txt"), "utf8"))?.[1] ?? null;
  const installed = t.memoryDevices.reduce((sum, m) => sum + (m.sizeBytes ?? 0), 0);
  // MemTotal is a little under what is installed: the kernel keeps its own image and reserved ranges.
  const memTotal = shape.memoryMiB * 2 ** 20 - 96 * 2 ** 20;
  const nics: NicDetails[] = shape.nics.map((nic, i) => ({
    name: `eth${i}`,
    mac: nic.mac,
    driver: nic.driver,
    pciAddress: nic.pci,
    speedMbps: nic.driver === "e1000" ? 1000 : null,
    carrier: true,
  }));
  const disks: DiskDetails[] = shape.disks.map((disk) => ({
    name: disk.name,
    sizeBytes: disk.sizeBytes,
    model: disk.model,
    serial: disk.kind === "nvme" ? "NV1" : null,
    wwn: null,
    kind: disk.kind,
    rotational: false,
    busPath: `pci0000:00/${disk.pci}`,
    pciAddress: disk.pci,
  }));
  const inventory: Inventory = Inventory.parse({
    bootMac: shape.nics[0]?.mac,
    system: {
      manufacturer: t.system?.manufacturer ?? null,
      product: t.system?.product ?? null,
      serial: t.system?.serial ?? null,
      uuid: uuid ?? t.system?.uuid ?? null,
    },
    cpu: { model: "QEMU TCG CPU version 2.5+", logicalCount: shape.cpus.threads },
    memoryBytes: memTotal,
    nics: nics.map(({ name: nicName, mac }) => ({ name: nicName, mac })),
    disks: disks.map(({ name: diskName, sizeBytes }) => ({ name: diskName, sizeBytes })),
    details: {
      firmwareType: shape.firmwareType,
      smbios: smbiosFacts(t),
      smbiosError: null,
      cpu: {
        vendor: "AuthenticAMD",
        sockets: shape.cpus.sockets,
        cores: shape.cpus.cores,
        threads: shape.cpus.threads,
        flags: ["aes", "avx2", "sse4_2"],
      },
      memory: { totalBytes: memTotal, installedBytes: installed > 0 ? installed : null },
      nics,
      disks,
      storageControllers: shape.disks.some((d) => d.kind === "nvme")
        ? [
            {
              pciAddress: "0000:00:06.0",
              vendorId: "0x1b36",
              deviceId: "0x0010",
              classCode: "0x010802",
              raid: false,
              driver: "nvme",
            },
          ]
        : [],
      network: null,
    },
  });
  writeFileSync(join(OUT_DIR, `${name}.json`), `${JSON.stringify(inventory, null, 2)}\n`);
  console.log(`wrote ${name}.json`);
}
