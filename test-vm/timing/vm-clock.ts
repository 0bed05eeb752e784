// Where one test VM's life went, for the suite's timing table (issue 14): QEMU's own CPU time (TCG work
// on the host) and, from its console as the lines appear, how long it spent booting (firmware, iPXE,
// kernel, until our loader or the installed OS speaks), running the loader's work, idle waiting on the
// server (polls, retries), and running its installed OS.
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";

export type VmPhase = "boot" | "loader" | "wait" | "os";

export interface VmTiming {
  name: string;
  /** The test file that started it (set by the suite's timing setup; absent outside vitest). */
  file?: string;
  firmware: string;
  vcpus: number;
  wallS: number;
  /** utime + stime of the QEMU process: what emulating the guest cost the host. */
  qemuCpuS: number;
  phases: Record<VmPhase, number>;
  /** Power-ons and reboots seen on the console. */
  boots: number;
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (fixed at 100 on x86). */
const TICKS_PER_SECOND = 100;
const POLL_MS = 250;

/** A line that starts a boot: SeaBIOS or OVMF's banner, or iPXE's. */
const BOOT_START = /SeaBIOS \(version|BdsDxe: loading|iPXE initialising devices/;
const LOADER_START = /bootwright loader starting/;
/** The loader idle: nothing queued, or retrying a server that did not answer. */
const LOADER_WAIT = /nothing to do: waiting for the server|failed reason=.*retryInSeconds=/;
const LOADER_LINE = /^bootwright\[[\d.]+s\]/;
const OS_LINE = /^bootwright-os: /;

/** Reads utime + stime (fields 14 and 15) of a process; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The phase a console line moves the VM into, or undefined when it does not change it. */
export function phaseAfter(line: string, current: VmPhase): VmPhase | undefined {
  if (BOOT_START.test(line)) return current === "boot" ? undefined : "boot";
  if (LOADER_START.test(line)) return "loader";
  if (LOADER_WAIT.test(line)) return "wait";
  if (LOADER_LINE.test(line)) return current === "loader" ? undefined : "loader";
  if (OS_LINE.test(line)) return current === "os" ? undefined : "os";
  return undefined;
}

/** Follows one VM from power-on: samples QEMU's CPU time and timestamps its console lines. */
export class VmClock {
  private readonly startedAt = performance.now();
  private readonly phases: Record<VmPhase, number> = { boot: 0, loader: 0, wait: 0, os: 0 };
  private phase: VmPhase = "boot";
  private phaseSince = this.startedAt;
  private boots = 1;
  private cpuS = 0;
  private offset = 0;
  private partial = "";
  private readonly timer: NodeJS.Timeout;
  private finished: VmTiming | undefined;

  constructor(
    private readonly pid: number,
    private readonly consolePath: string,
    private readonly describe: { name: string; firmware: string; vcpus: number },
  ) {
    this.timer = setInterval(() => {
      this.sample();
    }, POLL_MS);
    // The clock must never keep a test process alive.
    this.timer.unref();
  }

  /** Reads what the console gained since the last look and the QEMU process's CPU time. */
  sample(): void {
    if (this.finished) return;
    const cpu = cpuSeconds(this.pid);
    if (cpu !== undefined) this.cpuS = cpu;
    let size: number;
    try {
      size = statSync(this.consolePath).size;
    } catch {
      return;
    }
    if (size <= this.offset) return;
    const fd = openSync(this.consolePath, "r");
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const read = readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += read;
      const lines = (this.partial + buffer.subarray(0, read).toString("utf8")).split(/\r?\n/);
      this.partial = lines.pop() ?? "";
      const now = performance.now();
      for (const line of lines) this.observe(line, now);
    } finally {
      closeSync(fd);
    }
  }

  private observe(line: string, now: number): void {
    const next = phaseAfter(line, this.phase);
    if (next === undefined) return;
    if (next === "boot") this.boots += 1;
    this.phases[this.phase] += now - this.phaseSince;
    this.phase = next;
    this.phaseSince = now;
  }

  /** Closes the books: the last sample (call before QEMU is killed where possible). */
  finish(): VmTiming {
    if (this.finished) return this.finished;
    this.sample();
    clearInterval(this.timer);
    const now = performance.now();
    this.phases[this.phase] += now - this.phaseSince;
    const seconds = (ms: number) => Math.round(ms) / 1000;
    this.finished = {
      ...this.describe,
      ...(currentFile ? { file: currentFile } : {}),
      wallS: seconds(now - this.startedAt),
      qemuCpuS: Math.round(this.cpuS * 100) / 100,
      phases: {
        boot: seconds(this.phases.boot),
        loader: seconds(this.phases.loader),
        wait: seconds(this.phases.wait),
        os: seconds(this.phases.os),
      },
      boots: this.boots,
    };
    sink?.(this.finished);
    return this.finished;
  }
}

// The suite's timing setup (one per test file, test-vm/timing-setup.ts) names the file and where records go.
let sink: ((timing: VmTiming) => void) | undefined;
let currentFile: string | undefined;

export function recordVmTimings(file: string, to: (timing: VmTiming) => void): void {
  currentFile = file;
  sink = to;
}
