// Chooses QEMU's accelerator: KVM only where a short probe boot of our own kernel + initramfs proves it
// works (on our machines /dev/kvm is a nested hypervisor that cannot run a stock kernel: vm-notes.md),
// else TCG. The verdict is cached in build/accel.json so one run pays for the probe once.
import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { INITRAMFS_PATH, KERNEL_PATH, REPO_ROOT } from "./paths.js";

export type Accelerator = "kvm" | "tcg";

const CACHE = resolve(REPO_ROOT, "build/accel.json");
const PROBE_TIMEOUT_MS = 30_000;
const PROBE_OK = "bootwright: probe ok";

function kvmDeviceUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Boots our kernel + initramfs with `bootwright.probe=1` under KVM: true if it reached /init in time. */
async function probeKvm(): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-kvm-probe-"));
  const consolePath = join(dir, "console.log");
  try {
    const child = spawn(
      "qemu-system-x86_64",
      [
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-m",
        "1024",
        "-nographic",
        "-no-reboot",
        "-monitor",
        "none",
        "-serial",
        `file:${consolePath}`,
        "-kernel",
        KERNEL_PATH,
        "-initrd",
        INITRAMFS_PATH,
        "-append",
        "console=ttyS0 bootwright.probe=1 panic=-1",
      ],
      { stdio: "ignore" },
    );
    const exited = new Promise<void>((done) =>
      child.once("exit", () => {
        done();
      }),
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    let text = "";
    try {
      text = readFileSync(consolePath, "utf8");
    } catch {
      // no console file: QEMU refused to start with KVM at all
    }
    return text.includes(PROBE_OK);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function chooseAccelerator(env: NodeJS.ProcessEnv = process.env): Promise<Accelerator> {
  const forced = env.BOOTWRIGHT_ACCEL;
  if (forced === "kvm" || forced === "tcg") return report(forced, "forced by BOOTWRIGHT_ACCEL");
  if (!kvmDeviceUsable()) return report("tcg", "/dev/kvm is not usable");
  try {
    const cached = JSON.parse(readFileSync(CACHE, "utf8")) as { accel?: unknown };
    if (cached.accel === "kvm" || cached.accel === "tcg")
      return report(cached.accel, "cached probe result in build/accel.json");
  } catch {
    // no cache yet
  }
  const ok = await probeKvm();
  const accel: Accelerator = ok ? "kvm" : "tcg";
  writeFileSync(CACHE, JSON.stringify({ accel, probedAt: new Date().toISOString() }));
  return report(accel, ok ? "KVM probe boot reached /init" : "KVM probe boot failed: falling back to TCG");
}

function report(accel: Accelerator, why: string): Accelerator {
  process.stderr.write(`[test-vm] accelerator: ${accel} (${why})\n`);
  return accel;
}
