// The suite's timing table (issue 14), printed at the end of `npm test` and written to
// build/test-timing.json for later runs and issues to compare against: each test file's wall time, and
// for the VMs it started, where their time went (booting, the loader's work, waiting on the server,
// the installed OS) and what they cost the host's CPU under emulation.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import { REPO_ROOT } from "../paths.js";
import { STEP_TIMINGS_PATH, SUITE_TIMING_PATH, VM_TIMINGS_PATH } from "./files.js";
import type { VmPhase, VmTiming } from "./vm-clock.js";

export interface FileTiming {
  file: string;
  project: string;
  state: string;
  /** Wall time from the file's start to its end (files run side by side overlap). */
  seconds: number;
  startS: number;
  vms: number;
  vmSeconds: number;
  phases: Record<VmPhase, number>;
  qemuCpuS: number;
}

/** A stage of `npm test` before vitest (set-up steps that ran, the type/lint/format check). */
export interface StepTiming {
  step: string;
  seconds: number;
}

export interface SuiteTiming {
  at: string;
  machine: { cores: number; accel: string };
  /** The stages before vitest, in order. */
  steps: StepTiming[];
  /** vitest's own run, from its first file to its last. */
  wallS: number;
  files: FileTiming[];
  vms: VmTiming[];
}

/** One JSON object a line, as the setup, the timing setup and the scripts append them. */
function readJsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

function accelerator(): string {
  try {
    const cached = JSON.parse(readFileSync(`${REPO_ROOT}/build/accel.json`, "utf8")) as { accel?: string };
    return cached.accel ?? "unknown";
  } catch {
    return "unknown";
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

export function fileTimings(
  modules: { file: string; project: string; state: string; startMs: number; endMs: number }[],
  vms: VmTiming[],
  runStartMs: number,
): FileTiming[] {
  return modules
    .map((m) => {
      const mine = vms.filter((vm) => vm.file === m.file);
      const sum = (pick: (vm: VmTiming) => number) => round(mine.reduce((total, vm) => total + pick(vm), 0));
      return {
        file: m.file,
        project: m.project,
        state: m.state,
        seconds: round((m.endMs - m.startMs) / 1000),
        startS: round((m.startMs - runStartMs) / 1000),
        vms: mine.length,
        vmSeconds: sum((vm) => vm.wallS),
        phases: {
          boot: sum((vm) => vm.phases.boot),
          loader: sum((vm) => vm.phases.loader),
          wait: sum((vm) => vm.phases.wait),
          os: sum((vm) => vm.phases.os),
        },
        qemuCpuS: sum((vm) => vm.qemuCpuS),
      };
    })
    .sort((a, b) => b.seconds - a.seconds);
}

export function formatTable(suite: SuiteTiming): string {
  const header = ["file", "s", "start", "VMs", "VM-s", "boot", "loader", "wait", "os", "qemu-cpu"];
  const rows = suite.files
    .filter((f) => f.project !== "unit")
    .map((f) => [
      f.file + (f.state === "passed" ? "" : ` (${f.state})`),
      f.seconds,
      f.startS,
      f.vms,
      f.vmSeconds,
      f.phases.boot,
      f.phases.loader,
      f.phases.wait,
      f.phases.os,
      f.qemuCpuS,
    ]);
  const unit = suite.files.filter((f) => f.project === "unit");
  if (unit.length > 0) {
    const first = Math.min(...unit.map((f) => f.startS));
    const last = Math.max(...unit.map((f) => f.startS + f.seconds));
    rows.push([
      `unit tests (${unit.length} files, side by side)`,
      round(last - first),
      first,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
  }
  const vm = (pick: (v: VmTiming) => number) => round(suite.vms.reduce((t, v) => t + pick(v), 0));
  rows.push([
    `all, summed (vitest wall ${suite.wallS} s, ${suite.machine.cores} cores, ${suite.machine.accel})`,
    round(suite.files.reduce((t, f) => t + f.seconds, 0)),
    0,
    suite.vms.length,
    vm((v) => v.wallS),
    vm((v) => v.phases.boot),
    vm((v) => v.phases.loader),
    vm((v) => v.phases.wait),
    vm((v) => v.phases.os),
    vm((v) => v.qemuCpuS),
  ]);
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  const before = suite.steps.map(
    (s) => `  ${s.step.padEnd(widths[0] ?? 0)}  ${String(s.seconds).padStart(6)}`,
  );
  return [
    ...(before.length > 0 ? ["before vitest (seconds):", ...before] : []),
    "suite timing (seconds; VM-s = the file's VMs' lifetimes summed; boot/loader/wait/os split them; qemu-cpu = host CPU they used)",
    ...cells.map(line),
  ].join("\n");
}

export class TimingReporter implements Reporter {
  private runStartMs = 0;
  private readonly starts = new Map<string, number>();
  private readonly ends = new Map<string, number>();

  onTestRunStart(): void {
    this.runStartMs = performance.now();
    rmSync(VM_TIMINGS_PATH, { force: true });
  }

  onTestModuleStart(module: TestModule): void {
    this.starts.set(module.moduleId, performance.now());
  }

  onTestModuleEnd(module: TestModule): void {
    this.ends.set(module.moduleId, performance.now());
  }

  onTestRunEnd(modules: readonly TestModule[]): void {
    const now = performance.now();
    const vms = readJsonLines<VmTiming>(VM_TIMINGS_PATH);
    const suite: SuiteTiming = {
      at: new Date().toISOString(),
      machine: { cores: availableParallelism(), accel: accelerator() },
      steps: readJsonLines<StepTiming>(STEP_TIMINGS_PATH),
      wallS: round((now - this.runStartMs) / 1000),
      files: fileTimings(
        modules.map((m) => ({
          file: relative(REPO_ROOT, m.moduleId),
          project: m.project.name,
          state: m.state(),
          startMs: this.starts.get(m.moduleId) ?? now,
          endMs: this.ends.get(m.moduleId) ?? now,
        })),
        vms,
        this.runStartMs,
      ),
      vms,
    };
    mkdirSync(dirname(SUITE_TIMING_PATH), { recursive: true });
    const temp = `${SUITE_TIMING_PATH}.tmp`;
    writeFileSync(temp, JSON.stringify(suite, null, 2) + "\n");
    renameSync(temp, SUITE_TIMING_PATH);
    process.stdout.write(`\n${formatTable(suite)}\n(also in ${relative(REPO_ROOT, SUITE_TIMING_PATH)})\n`);
  }
}
