// Shared by the installer's and loader's unit tests: a step context over a fake root, with a fake Exec;
// a fake UEFI machine's root.
import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import type { AgentPlan, Inventory } from "../../protocol/index.js";
import { EFIVARS_DIR, GLOBAL_GUID } from "./efivarfs.js";
import { readGpt } from "./gpt.js";
import { MiB } from "./gpt-write.js";
import type { Exec, StepContext } from "./plugin.js";

export const TEST_INVENTORY: Inventory = {
  bootMac: "52:54:00:aa:00:01",
  system: {
    manufacturer: "Acme",
    product: "X1",
    serial: "SN-123",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000000a1",
  },
  cpu: { model: "QEMU TCG CPU", logicalCount: 2 },
  memoryBytes: 1024 * 2 ** 20,
  nics: [{ name: "eth0", mac: "52:54:00:aa:00:01" }],
  disks: [{ name: "vda", sizeBytes: 512 * 2 ** 20 }],
};

/** An Exec that refuses every program: for steps that must run none. */
export const refuseAll: Exec = (command, argv) =>
  Promise.reject(new Error(`program not faked: ${command} ${argv.join(" ")}`));

/** A step context for `plan` over the fake `root`, running programs through `exec`. */
export function stepContext(root: string, plan: AgentPlan, exec: Exec, progress: string[] = []): StepContext {
  return {
    inventory: TEST_INVENTORY,
    plan,
    machine: { id: "m-1", serverUrl: "http://server.test", credential: "bwm_test" },
    signal: AbortSignal.timeout(10_000),
    root,
    progress: (message) => progress.push(message),
    exec,
  };
}

/**
 * A fake root whose disk vda is a file of `diskMiB` (512-byte sectors), in a new temp directory removed
 * when the calling test ends.
 */
export function fakeDiskMachine(diskMiB = 64): { root: string; disk: string } {
  const root = mkdtempSync(join(tmpdir(), "bootwright-disk-"));
  onTestFinished(() => {
    rmSync(root, { recursive: true, force: true });
  });
  mkdirSync(join(root, "sys/block/vda/queue"), { recursive: true });
  mkdirSync(join(root, "dev"));
  writeFileSync(join(root, "sys/block/vda/size"), `${(diskMiB * MiB) / 512}\n`);
  writeFileSync(join(root, "sys/block/vda/queue/logical_block_size"), "512\n");
  const disk = join(root, "dev/vda");
  closeSync(openSync(disk, "w"));
  truncateSync(disk, diskMiB * MiB);
  return { root, disk };
}

/**
 * An Exec for a fakeDiskMachine: `blockdev --rereadpt` does what the kernel would (a sysfs entry and a
 * device node per partition); the programs whose names `recorded` matches are only recorded; any other
 * is refused. Every call lands in `calls`, with the root's path shown as <root>.
 */
export function fakeKernelExec(root: string, calls: string[][], recorded: RegExp): Exec {
  return async (command, argv) => {
    const name = command.slice(command.lastIndexOf("/") + 1);
    calls.push([name, ...argv.map((a) => a.replace(root, "<root>"))]);
    if (command === "blockdev" && argv[0] === "--rereadpt") {
      for (const p of await readGpt(join(root, "dev/vda"))) {
        mkdirSync(join(root, "sys/block/vda", `vda${p.index}`), { recursive: true });
        writeFileSync(join(root, "sys/block/vda", `vda${p.index}`, "partition"), `${p.index}\n`);
        writeFileSync(join(root, "dev", `vda${p.index}`), "");
      }
    } else if (!recorded.test(name)) {
      throw new Error(`program not faked: ${command}`);
    }
    return { stdout: "", stderr: "" };
  };
}

/**
 * A whole-disk image of `imageBytes` partitioned by sfdisk from `script` (its backup GPT at the image's
 * own end, as build-os-image makes them), written at the start of `disk`.
 */
export function writeSfdiskImage(disk: string, imageBytes: number, script: string): void {
  const image = `${disk}.image`;
  closeSync(openSync(image, "w"));
  truncateSync(image, imageBytes);
  execFileSync("sfdisk", ["--quiet", image], { input: script });
  const bytes = readFileSync(image);
  const fd = openSync(disk, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, 0);
  } finally {
    closeSync(fd);
  }
}

const ovmf = JSON.parse(
  readFileSync(new URL("./fixtures/ovmf-boot-options.json", import.meta.url), "utf8"),
) as {
  variables: Record<string, string>;
};

/**
 * A fake root of a UEFI machine, in a new temp directory removed when the calling test ends: efivarfs as a directory
 * holding a real OVMF's Boot#### variables (fixtures/ovmf-boot-options.json: Boot0001 the virtio disk,
 * Boot0002 the NIC's IPv4 PXE, BootCurrent), plus `extra` variables (hex data); sysfs links place the
 * disk at PCI 00:03.0 and the NIC at 00:02.0, which is how options are classed.
 */
export function fakeOvmfMachine(extra: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), "bootwright-uefi-"));
  onTestFinished(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const vars = join(root, EFIVARS_DIR);
  mkdirSync(vars, { recursive: true });
  for (const [name, hex] of Object.entries({ ...ovmf.variables, BootCurrent: "0200", ...extra }))
    writeFileSync(join(vars, `${name}-${GLOBAL_GUID}`), Buffer.from(`07000000${hex}`, "hex"));
  mkdirSync(join(root, "proc"));
  writeFileSync(join(root, "proc/mounts"), `efivarfs ${vars} efivarfs rw,nosuid,nodev,noexec 0 0\n`);
  const disk = "sys/devices/pci0000:00/0000:00:03.0/virtio1/block/vda";
  const nic = "sys/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0";
  for (const dir of [disk, nic, "sys/block", "sys/class/net"])
    mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, disk, "size"), "262144\n");
  symlinkSync(join(root, disk), join(root, "sys/block/vda"));
  symlinkSync(join(root, nic), join(root, "sys/class/net/eth0"));
  return root;
}
