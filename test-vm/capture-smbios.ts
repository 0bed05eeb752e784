// Captures real SMBIOS tables as parser fixtures: boots each VM shape below straight into the initramfs
// with `bootwright.dump-dmi=1` (initramfs/init prints /sys/firmware/dmi/tables/* as base64 and powers
// off) and writes agent/inventory/fixtures/smbios/<shape>/{smbios_entry_point,DMI,qemu-args.txt}.
// Also copies this host's own tables when /sys/firmware/dmi/tables is readable.
// Usage: npx tsx test-vm/capture-smbios.ts [shape-name-prefix]
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "./accelerator.js";
import { INITRAMFS_PATH, KERNEL_PATH, REPO_ROOT, requireBootArtefacts } from "./paths.js";
import { qemuArgs, Vm, type VmOptions } from "./qemu.js";

const FIXTURES = join(REPO_ROOT, "agent/inventory/fixtures/smbios");
const TIMEOUT_MS = 120_000;

type Shape = Pick<
  VmOptions,
  "firmware" | "uuid" | "smbios" | "disksMiB" | "memoryMiB" | "cpus" | "smp" | "extraArgs"
> & { name: string; mac: string };

const FULL_SMBIOS = [
  "type=0,vendor=Bootwright BIOS Co,version=1.2.3,date=03/14/2024,release=2.7",
  "type=1,manufacturer=Acme,product=X1 Blade,version=rev A,serial=SN-1001,sku=SKU-X1,family=X Series",
  "type=2,manufacturer=Acme Boards,product=BB-9,version=2,serial=BSN-77,asset=BASSET-1,location=Slot 7",
  "type=3,manufacturer=Acme Chassis,version=C1,serial=CSN-5,asset=ASSET-0042,sku=CH-SKU",
  "type=4,sock_pfx=CPU Socket,manufacturer=Acme Silicon,version=Acme 9000,serial=PSN-1,asset=PASSET,part=P-9000",
  "type=11,value=bootwright:role=compute,value=rack=R12",
  "type=17,loc_pfx=DIMM,bank=BANK 0,manufacturer=Acme RAM,serial=MSN-1,asset=MASSET,part=M-DDR4,speed=3200",
];

/** Varied shapes: BIOS and UEFI, SMBIOS 2.x and 3.x entry points, memory/CPU/disk/NIC mixes. */
const SHAPES: Shape[] = [
  { name: "bios-defaults", firmware: "bios", mac: "52:54:00:c0:00:01", disksMiB: [64] },
  {
    name: "bios-full-2nic-nvme",
    firmware: "bios",
    mac: "52:54:00:c0:00:02",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000c0002",
    smbios: FULL_SMBIOS,
    memoryMiB: 2048,
    smp: "4,sockets=2,cores=2,threads=1",
    disksMiB: [128],
    extraArgs: [
      "-netdev",
      "user,id=net1",
      "-device",
      "e1000,netdev=net1,mac=52:54:00:c1:00:02",
      "-drive",
      "if=none,id=n0,file=${WORK}/nvme0.img,format=raw",
      "-device",
      "nvme,drive=n0,serial=NV1",
    ],
  },
  {
    name: "q35-smbios3",
    firmware: "bios",
    mac: "52:54:00:c0:00:03",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000c0003",
    smbios: [
      "type=1,manufacturer=Acme,product=X3,serial=SN-3003",
      "type=2,location=Blade 12,serial=BSN-3",
      "type=3,asset=ASSET-3003",
      "type=11,value=only one string",
    ],
    memoryMiB: 3072,
    smp: "3",
    extraArgs: ["-machine", "q35,smbios-entry-point-type=64"],
  },
  {
    name: "uefi-ovmf",
    firmware: "uefi",
    mac: "52:54:00:c0:00:04",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000c0004",
    smbios: ["type=1,manufacturer=Acme,product=X4 UEFI,serial=SN-4004", "type=0,uefi=on"],
    memoryMiB: 1536,
    cpus: 2,
  },
  {
    name: "bios-big-memory",
    firmware: "bios",
    mac: "52:54:00:c0:00:05",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000c0005",
    smbios: ["type=17,loc_pfx=SLOT,manufacturer=Big RAM,speed=2666", "type=4,manufacturer=Other Silicon"],
    memoryMiB: 20 * 1024,
    smp: "8,sockets=1,cores=4,threads=2",
    extraArgs: ["-machine", "pc,smbios-entry-point-type=64"],
  },
];

function extract(console: string, file: string): Buffer {
  const match = new RegExp(`bootwright-dmi-begin ${file}\\r?\\n([\\s\\S]*?)bootwright-dmi-end ${file}`).exec(
    console,
  );
  if (!match?.[1]) throw new Error(`no ${file} block on the console`);
  return Buffer.from(match[1].replace(/\s+/g, ""), "base64");
}

/** One `-flag value` pair per line, values with spaces single-quoted: readable and pasteable. */
function formatCommandLine(args: string[]): string {
  const quote = (arg: string): string => (/[\s$]/.test(arg) && !arg.startsWith("$") ? `'${arg}'` : arg);
  const lines = ["qemu-system-x86_64"];
  for (const arg of args) {
    if (arg.startsWith("-")) lines.push(arg);
    else lines.push(`${lines.pop() ?? ""} ${quote(arg)}`);
  }
  return `${lines.join(" \\\n  ")}\n`;
}

async function capture(shape: Shape, accel: "kvm" | "tcg", work: string): Promise<void> {
  const dir = join(work, shape.name);
  mkdirSync(dir, { recursive: true });
  const extraArgs = (shape.extraArgs ?? []).map((arg) => arg.replaceAll("${WORK}", dir));
  for (const arg of extraArgs) {
    const file = /file=([^,]+\.img)/.exec(arg)?.[1];
    if (file) writeFileSync(file, Buffer.alloc(16 * 2 ** 20));
  }
  const options: VmOptions = {
    ...shape,
    workDir: dir,
    accel,
    extraArgs,
    boot: {
      kind: "direct",
      kernel: KERNEL_PATH,
      initrd: INITRAMFS_PATH,
      append: "console=ttyS0 quiet panic=-1 bootwright.dump-dmi=1",
    },
  };
  const vm = Vm.start(options);
  try {
    await vm.waitForConsole(/bootwright-dmi-end DMI/, TIMEOUT_MS);
  } finally {
    await vm.stop();
  }
  const text = vm.console();
  const out = join(FIXTURES, shape.name);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "smbios_entry_point"), extract(text, "smbios_entry_point"));
  writeFileSync(join(out, "DMI"), extract(text, "DMI"));
  const args = qemuArgs(options, join(dir, "console.log")).map((arg) =>
    arg.replaceAll(dir, "$WORK").replaceAll(REPO_ROOT, "$REPO"),
  );
  writeFileSync(join(out, "qemu-args.txt"), formatCommandLine(args));
  console.log(`captured ${shape.name}`);
}

async function main(): Promise<void> {
  requireBootArtefacts();
  const prefix = process.argv[2] ?? "";
  const accel = await chooseAccelerator();
  const work = mkdtempSync(join(tmpdir(), "bootwright-capture-"));
  try {
    // One VM at a time (vm-notes.md: two TCG guests on 2 cores crawl).
    for (const shape of SHAPES.filter((s) => s.name.startsWith(prefix))) await capture(shape, accel, work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const host = "/sys/firmware/dmi/tables";
  if (existsSync(join(host, "DMI"))) {
    try {
      const out = join(FIXTURES, "host");
      mkdirSync(out, { recursive: true });
      for (const file of ["smbios_entry_point", "DMI"]) copyFileSync(join(host, file), join(out, file));
      console.log("captured this host's tables");
    } catch (err) {
      console.log(`host tables not readable: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    console.log("this host exposes no /sys/firmware/dmi/tables: no host fixture");
  }
}

await main();
