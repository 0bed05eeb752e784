// Starts and stops QEMU test VMs: SeaBIOS or OVMF, iPXE network boot, direct -kernel/-initrd or boot
// from an existing disk image, user-mode networking, virtio disks on sparse temp files or image files,
// SMBIOS fields, serial console to a file.
// A VM is always stopped by its PID, even when the test fails.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { Accelerator } from "./accelerator.js";
import {
  INITRAMFS_PATH,
  KERNEL_PATH,
  OVMF_CODE,
  OVMF_CODE_SECURE,
  OVMF_VARS,
  OVMF_VARS_MS,
} from "./paths.js";
import { VmClock, type VmTiming } from "./timing/vm-clock.js";

/** SeaBIOS; OVMF; OVMF with Secure Boot enforced and Microsoft's keys enrolled (SMM, secure flash). */
export type Firmware = "bios" | "uefi" | "uefi-secure";

export type VmBoot =
  /** Power on and network-boot: QEMU's DHCP hands iPXE this URL as its boot file. */
  | { kind: "network"; bootfileUrl: string }
  /** Boot a kernel and initramfs directly, as a machine that skipped iPXE would. */
  | { kind: "direct"; kernel: string; initrd: string; append: string }
  /** Power on and boot the first of `diskImages` (an installed OS), through the firmware's disk boot. */
  | { kind: "disk" }
  /**
   * Power on and network-boot on a site network (`network` must be a tap): whatever the site's DHCP
   * servers say. `nic` picks the NIC's boot code: Debian's iPXE option ROM, or none (the firmware's own
   * PXE or HTTP boot). `uefiPxe: false` turns OVMF's IPv4 PXE off, so it goes on to UEFI HTTP boot.
   */
  | { kind: "site"; nic: "ipxe-rom" | "firmware"; uefiPxe?: boolean }
  /**
   * Power on into the firmware with QEMU's legacy boot order (`-boot order=`, e.g. "c"): no device has a
   * bootindex, so the boot order a BMC sets later (QMP `boot_set`) decides what SeaBIOS tries first.
   */
  | { kind: "firmware"; order: string };

/** A tap device in a network namespace: QEMU runs in the namespace and plugs the NIC into the tap. */
export interface TapNetwork {
  namespace: string;
  tap: string;
}

/**
 * Our loader booted directly (-kernel/-initrd) with what iPXE would put on its command line: the boot
 * NIC as BOOTIF and the server's advertised URL. `extraArgs` adds kernel parameters.
 */
export function directLoaderBoot(mac: string, serverUrl: string, extraArgs = ""): VmBoot {
  const bootif = `01-${mac.replaceAll(":", "-")}`;
  return {
    kind: "direct",
    kernel: KERNEL_PATH,
    initrd: INITRAMFS_PATH,
    append:
      `console=ttyS0,115200n8 quiet panic=-1 BOOTIF=${bootif} bootwright.server=${serverUrl} bootwright.lldp-wait=0 ${extraArgs}`.trim(),
  };
}

export interface VmOptions {
  name: string;
  /** A directory of the test's own: the console log, disks and UEFI vars live there. */
  workDir: string;
  accel: Accelerator;
  firmware: Firmware;
  boot: VmBoot;
  mac: string;
  /** SMBIOS system UUID (-uuid); each test VM gets its own. */
  uuid?: string;
  /** Raw `-smbios` values, e.g. "type=1,manufacturer=Acme,product=X1,serial=SN-123". */
  smbios?: string[];
  disksMiB?: number[];
  /** Existing raw disk image files, attached as virtio disks before the blank `disksMiB` ones. */
  diskImages?: string[];
  memoryMiB?: number;
  /** Let a guest reboot (a reboot otherwise ends QEMU: -no-reboot). */
  allowReboot?: boolean;
  /** vCPUs (default 1: see vcpuCount). */
  cpus?: number;
  /** A full `-smp` value (e.g. "4,sockets=2,cores=2"); overrides `cpus`. */
  smp?: string;
  /** Extra QEMU arguments (NVMe drives, more NICs, -machine properties), added before -kernel. */
  extraArgs?: string[];
  /** The NIC on a site network's tap instead of QEMU's user-mode network. */
  tap?: TapNetwork;
  /** No NIC at all: firmware alone, with nothing to network-boot (a BMC's power tests). */
  withoutNic?: boolean;
  /** false: a NIC without a boot ROM (no PXE path at all); the OS still has its network. */
  nicRom?: boolean;
  /**
   * The NIC QEMU emulates (default virtio-net-pci), e.g. vmxnet3 or rtl8139: real hardware whose driver
   * the loader must bring. QEMU gives each model its iPXE ROM from Debian's ipxe-qemu.
   */
  nicModel?: string;
}

/** Console lines worth keeping in a failure message: boots, iPXE's fetches, our loader and OS lines. */
const MILESTONE =
  /SeaBIOS \(version|BdsDxe:|iPXE \d|Configuring \(net|http:\/\/|^bootwright|No configuration methods/;

/** Firmware menus and iPXE paint with ANSI escapes: drop them so tests match plain text. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g, "");
}

/**
 * vCPUs of the VM: `smp`'s first number, else `cpus`, else one. Under TCG one vCPU boots as fast as two
 * (the kernel, Node and zstd are single-threaded there), and two one-vCPU VMs side by side on our 2 cores
 * finish in half the time of one after the other (13.8 s vs 26.6 s to the loader's second retry; two
 * two-vCPU VMs: 16.1 s vs 28.2 s), which is what lets the suite run two VM test files at once.
 */
function vcpuCount(options: VmOptions): number {
  return options.smp ? Number.parseInt(options.smp, 10) : (options.cpus ?? 1);
}

/**
 * The CPU model under TCG: QEMU's `max` without ERMS and FSRM ("fast rep movsb"). With them, Linux and
 * glibc copy memory with `rep movsb`, which TCG runs one byte per iteration; and QEMU keeps translated
 * code across a reset, so after a reboot each byte written to a page that still holds some took a slow
 * path. The loader's initramfs unpack took 3.0 s on a fresh VM and 6.5–11.3 s after a reset (the reboot
 * into a maintenance image, or into the installed OS after the loader); without the two flags the kernel
 * copies 8 bytes at a time, and the unpack took 3.2 s on a fresh VM and 3.4–4.1 s after each reset. (A
 * 64 MiB translation buffer also removed the penalty, but slowed the install stream 29.6 → 24.5 MB/s.)
 * Real CPUs with ERMS copy fast either way.
 */
const TCG_CPU = "max,-erms,-fsrm";

export function qemuArgs(options: VmOptions, consolePath: string): string[] {
  const args = [
    "-name",
    options.name,
    "-accel",
    options.accel,
    "-cpu",
    options.accel === "kvm" ? "host" : TCG_CPU,
    "-m",
    String(options.memoryMiB ?? 1024),
    "-smp",
    options.smp ?? String(vcpuCount(options)),
    "-nographic",
    "-monitor",
    "none",
    "-serial",
    `file:${consolePath}`,
  ];
  if (!options.allowReboot) args.push("-no-reboot");
  if (options.uuid) args.push("-uuid", options.uuid);
  for (const value of options.smbios ?? []) args.push("-smbios", value);

  const boot = options.boot;
  const netBoot = boot.kind === "network" || boot.kind === "site";
  if (boot.kind === "site" && !options.tap)
    throw new Error(`${options.name}: a site boot needs a tap network`);
  const netdev = options.tap
    ? ["tap", "id=net0", `ifname=${options.tap.tap}`, "script=no", "downscript=no"]
    : ["user", "id=net0"];
  if (boot.kind === "network") netdev.push(`bootfile=${boot.bootfileUrl}`);
  // OVMF ignores -boot n: bootindex=0 on the NIC makes it try the network first.
  const nic = [options.nicModel ?? "virtio-net-pci", "netdev=net0", `mac=${options.mac}`];
  if (netBoot) nic.push("bootindex=0");
  // romfile= empty: no iPXE ROM on the NIC, the firmware's own network stack boots (PXE, HTTP).
  if ((boot.kind === "site" && boot.nic === "firmware") || options.nicRom === false) nic.push("romfile=");
  if (!options.withoutNic) args.push("-netdev", netdev.join(","), "-device", nic.join(","));
  if (boot.kind === "site" && options.firmware !== "bios") {
    // OVMF tries PXEv4, PXEv6, then HTTPv4 and HTTPv6 boot; one that gets no answer costs ~30 s
    // (vm-notes.md). IPv6 is never wanted here; IPv4 PXE off leaves UEFI HTTP boot.
    const pxe = boot.uefiPxe ?? true;
    args.push("-fw_cfg", `name=opt/org.tianocore/IPv4PXESupport,string=${pxe ? "yes" : "no"}`);
    args.push("-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=no");
  }

  if (options.firmware === "uefi" || options.firmware === "uefi-secure") {
    const secure = options.firmware === "uefi-secure";
    const vars = join(options.workDir, "OVMF_VARS.fd");
    copyFileSync(secure ? OVMF_VARS_MS : OVMF_VARS, vars);
    args.push(
      "-machine",
      secure ? "q35,smm=on" : "q35",
      ...(secure ? ["-global", "driver=cfi.pflash01,property=secure,value=on"] : []),
      "-drive",
      `if=pflash,format=raw,readonly=on,file=${secure ? OVMF_CODE_SECURE : OVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,file=${vars}`,
    );
  } else if (netBoot) {
    args.push("-boot", "n");
  } else if (boot.kind === "firmware") {
    args.push("-boot", `order=${boot.order}`);
  }

  const images = options.diskImages ?? [];
  if (options.boot.kind === "disk" && images.length === 0)
    throw new Error(`${options.name}: boot from disk needs at least one of diskImages`);
  images.forEach((path, i) => {
    // -device with bootindex=0 (not -drive if=virtio): both SeaBIOS and OVMF then try this disk first.
    const device = ["virtio-blk-pci", `drive=image${i}`];
    if (options.boot.kind === "disk" && i === 0) device.push("bootindex=0");
    args.push("-drive", `file=${path},if=none,id=image${i},format=raw`, "-device", device.join(","));
  });

  (options.disksMiB ?? []).forEach((sizeMiB, i) => {
    const path = join(options.workDir, `disk${i}.img`);
    writeFileSync(path, "");
    truncateSync(path, sizeMiB * 2 ** 20);
    // A network-booted machine's first disk comes next in its boot order, as on a server set to
    // "network, then disk". OVMF connects only the devices in QEMU's boot order: without a bootindex
    // the disk an install just wrote would be invisible when iPXE exits to the firmware.
    const bootindex = netBoot && i === 0 && images.length === 0 ? ",bootindex=1" : "";
    args.push(
      "-drive",
      `file=${path},if=none,id=disk${i},format=raw`,
      "-device",
      `virtio-blk-pci,drive=disk${i}${bootindex}`,
    );
  });

  args.push(...(options.extraArgs ?? []));
  if (options.boot.kind === "direct") {
    args.push("-kernel", options.boot.kernel, "-initrd", options.boot.initrd, "-append", options.boot.append);
  }
  return args;
}

export class Vm {
  private exitInfo: string | undefined;

  private constructor(
    readonly name: string,
    readonly consolePath: string,
    private readonly child: ChildProcess,
    private stderr: string,
    readonly startedAt: number,
    private readonly clock: VmClock | undefined,
  ) {
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    child.once("exit", (code, signal) => {
      this.exitInfo = signal ? `killed by ${signal}` : `exited with ${String(code)}`;
      this.clock?.finish();
    });
  }

  static start(options: VmOptions): Vm {
    mkdirSync(options.workDir, { recursive: true });
    const consolePath = join(options.workDir, "console.log");
    writeFileSync(consolePath, "");
    // In a site network's namespace, `ip netns exec` execs QEMU in place: the PID is QEMU's.
    const argv = qemuArgs(options, consolePath);
    const child = options.tap
      ? spawn("ip", ["netns", "exec", options.tap.namespace, "qemu-system-x86_64", ...argv], {
          stdio: ["ignore", "ignore", "pipe"],
        })
      : spawn("qemu-system-x86_64", argv, { stdio: ["ignore", "ignore", "pipe"] });
    const clock =
      child.pid === undefined
        ? undefined
        : new VmClock(child.pid, consolePath, {
            name: options.name,
            firmware: options.firmware,
            vcpus: vcpuCount(options),
          });
    return new Vm(options.name, consolePath, child, "", performance.now(), clock);
  }

  /** Where this VM's time went so far (final once it has stopped). */
  timing(): VmTiming | undefined {
    return this.running ? undefined : this.clock?.finish();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  console(): string {
    return stripAnsi(readFileSync(this.consolePath, "utf8"));
  }

  /** Waits until the console matches; fails early, with the console's tail, if QEMU exits first. */
  async waitForConsole(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const match = this.console().match(pattern);
      if (match) return match;
      if (!this.running)
        throw new Error(`${this.name}: QEMU ${this.exitInfo ?? ""} before ${pattern}\n${this.describe()}`);
      if (performance.now() > deadline)
        throw new Error(`${this.name}: no ${pattern} within ${timeoutMs} ms\n${this.describe()}`);
      await delay(250);
    }
  }

  /**
   * For failure messages: the whole console's milestones (firmware, iPXE and our own lines: what booted
   * when, even where the tail has scrolled past it), its tail, and QEMU's stderr.
   */
  describe(): string {
    const lines = this.console().split("\n");
    const milestones = lines.filter((line) => MILESTONE.test(line)).slice(-60);
    const tail = lines.slice(-40).join("\n");
    return `--- console milestones ---\n${milestones.join("\n")}\n--- console tail (${this.consolePath}) ---\n${tail}\n--- qemu stderr ---\n${this.stderr.slice(-2000)}`;
  }

  /** Stops QEMU by its PID: SIGTERM, then SIGKILL if it lingers. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    // The last CPU sample must be taken while QEMU still exists.
    this.clock?.sample();
    const exited = new Promise<void>((done) =>
      this.child.once("exit", () => {
        done();
      }),
    );
    this.child.kill("SIGTERM");
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  }
}
