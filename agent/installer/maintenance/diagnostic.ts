// The diagnostic image's program (seed 004: "diagnostics on the target machine hardware"; the health
// figures of seed 001: CPU speed, memory speed): a CPU hash benchmark, a user-space memory pattern test,
// disk read rates and read errors, and SMART health through the smartctl the image carries. Findings
// (memory mismatches, unreadable sectors, a failing disk, no SMART) are data; a step throws only when it
// could not measure at all.
import { createHash, randomBytes } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { parseCpuinfo } from "../../inventory/proc-parsers.js";
import { listDir, readText } from "../../inventory/sysfs.js";
import { describeError } from "../describe-error.js";
import { numberParam, type MaintenanceProgram, type MaintenanceStepContext } from "./program.js";
import { parseSmartctl } from "./smartctl.js";

const MiB = 2 ** 20;
/** Progress lines are the console's: at most one a second per step. */
const PROGRESS_EVERY_MS = 1000;
const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

async function readProc(ctx: MaintenanceStepContext, file: string): Promise<string> {
  const path = join(ctx.root, "proc", file);
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${path}: ${describeError(err)}`, { cause: err });
  }
}

/** The mean "cpu MHz" of /proc/cpuinfo's processors (each its current clock), null when none says. */
export function parseCpuMhz(cpuinfo: string): number | null {
  const values = [...cpuinfo.matchAll(/^cpu MHz\s*:\s*([\d.]+)$/gm)].map((m) => Number(m[1]));
  return values.length ? round(values.reduce((a, b) => a + b, 0) / values.length) : null;
}

/** MemAvailable of /proc/meminfo in MiB (the file says kB and means KiB). */
export function parseMemAvailableMiB(meminfo: string): number | null {
  const match = /^MemAvailable:\s+(\d+)\s+kB$/m.exec(meminfo);
  return match?.[1] === undefined ? null : Math.floor(Number(match[1]) / 1024);
}

const cpuBenchmark = async (ctx: MaintenanceStepContext): Promise<Record<string, unknown>> => {
  const seconds = numberParam(ctx.params, "seconds", 2, { min: 0.5, max: 30 });
  const cpuinfo = await readProc(ctx, "cpuinfo");
  const { model, logicalCount } = parseCpuinfo(cpuinfo);
  // One thread, like the figure a health rule compares machine to machine; random bytes so nothing folds.
  const buffer = randomBytes(MiB);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let hashedBytes = 0;
  let nextYield = started + 100;
  let nextProgress = started + PROGRESS_EVERY_MS;
  for (let now = started; now < deadline; now = performance.now()) {
    createHash("sha256").update(buffer).digest();
    hashedBytes += buffer.length;
    if (now < nextYield) continue;
    // Let the loader's timers (the active run's reports, the signal) run between slices.
    await yieldToEventLoop();
    ctx.signal.throwIfAborted();
    nextYield = now + 100;
    if (now < nextProgress) continue;
    nextProgress = now + PROGRESS_EVERY_MS;
    ctx.progress("hashing", {
      percent: Math.min(99, Math.floor(((now - started) / (deadline - started)) * 100)),
    });
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    seconds: round(elapsed, 2),
    hashedBytes,
    sha256MBs: round(hashedBytes / 1e6 / elapsed),
    threads: 1,
    model,
    logicalCpus: logicalCount,
    mhz: parseCpuMhz(cpuinfo),
  };
};

/**
 * A user-space memory test. It CAN find cells that do not hold what was written (stuck bits, bits
 * that flip with their neighbours' patterns, address lines that alias two words) in the pages the
 * kernel gives this process, and measure how fast they are written and read. It CANNOT choose physical
 * addresses, reach memory the kernel or other processes hold, step past the CPU caches on demand (the
 * region is far larger than they are, so most traffic does reach DRAM), or see errors ECC corrects on
 * the way: those the memory controller counts (EDAC, reported below when the kernel exposes it). A
 * clean result is not a clean bill of health; a mismatch is a real fault.
 */
interface Pattern {
  name: string;
  /** The word at 32-bit index i of the region. */
  word: (i: number) => number;
  /** Set for a constant pattern: written with fill(). */
  fill?: number;
}

const PATTERNS: readonly Pattern[] = [
  { name: "0x00", word: () => 0, fill: 0 },
  { name: "0xFF", word: () => 0xffffffff, fill: 0xffffffff },
  { name: "0x55", word: () => 0x55555555, fill: 0x55555555 },
  { name: "0xAA", word: () => 0xaaaaaaaa, fill: 0xaaaaaaaa },
  { name: "walking ones", word: (i) => (1 << (i & 31)) >>> 0 },
  // The word's own offset in the region (JS sees no virtual address; past 4 GiB it wraps).
  { name: "own address", word: (i) => (i * 4) >>> 0 },
];

const CHUNK_WORDS = (64 * MiB) / 4;

interface Mismatch {
  pattern: string;
  offsetBytes: number;
  expected: string;
  actual: string;
}

const hex = (word: number): string => `0x${word.toString(16).padStart(8, "0")}`;

export interface PatternFigures {
  patterns: { pattern: string; mismatches: number }[];
  mismatches: number;
  firstMismatch: Mismatch | null;
  writeMs: number;
  readMs: number;
}

/**
 * Writes each pattern over every chunk, then reads it all back and counts the words that differ.
 * `afterWrite` lets a test play a faulty cell between the two.
 */
export async function checkPatterns(
  chunks: readonly Uint32Array[],
  options: {
    signal: AbortSignal;
    onPattern: (pattern: string, percent: number) => void;
    afterWrite?: (pattern: string) => void;
  },
): Promise<PatternFigures> {
  const figures: PatternFigures = { patterns: [], mismatches: 0, firstMismatch: null, writeMs: 0, readMs: 0 };
  for (const [p, pattern] of PATTERNS.entries()) {
    let mismatches = 0;
    const writeStart = performance.now();
    let base = 0;
    for (const chunk of chunks) {
      if (pattern.fill !== undefined) chunk.fill(pattern.fill);
      else for (let i = 0; i < chunk.length; i++) chunk[i] = pattern.word(base + i);
      base += chunk.length;
    }
    figures.writeMs += performance.now() - writeStart;
    options.afterWrite?.(pattern.name);
    const readStart = performance.now();
    base = 0;
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i++) {
        const actual = chunk[i] ?? 0;
        const expected = pattern.word(base + i);
        if (actual === expected) continue;
        mismatches += 1;
        figures.firstMismatch ??= {
          pattern: pattern.name,
          offsetBytes: (base + i) * 4,
          expected: hex(expected),
          actual: hex(actual),
        };
      }
      base += chunk.length;
    }
    figures.readMs += performance.now() - readStart;
    figures.mismatches += mismatches;
    figures.patterns.push({ pattern: pattern.name, mismatches });
    await yieldToEventLoop();
    options.signal.throwIfAborted();
    options.onPattern(pattern.name, Math.floor(((p + 1) / PATTERNS.length) * 100));
  }
  return figures;
}

async function readEdac(root: string): Promise<{ correctable: number; uncorrectable: number } | null> {
  const base = join(root, "sys/devices/system/edac/mc");
  const controllers = (await listDir(base)).filter((name) => /^mc\d+$/.test(name));
  if (!controllers.length) return null;
  let correctable = 0;
  let uncorrectable = 0;
  for (const mc of controllers) {
    correctable += Number((await readText(join(base, mc, "ce_count"))) ?? "0");
    uncorrectable += Number((await readText(join(base, mc, "ue_count"))) ?? "0");
  }
  return { correctable, uncorrectable };
}

const memoryTest = async (ctx: MaintenanceStepContext): Promise<Record<string, unknown>> => {
  const mib = Math.floor(numberParam(ctx.params, "mib", 64, { min: 1, max: 2 ** 20 }));
  const meminfoPath = join(ctx.root, "proc/meminfo");
  const available = parseMemAvailableMiB(await readProc(ctx, "meminfo"));
  if (available === null) throw new Error(`${meminfoPath} has no MemAvailable line`);
  const limit = Math.floor(available / 2);
  if (mib > limit)
    throw new Error(
      `memory-test: ${mib} MiB asked but at most half of MemAvailable may be tested: MemAvailable is ${available} MiB (${meminfoPath}), so at most ${limit} MiB`,
    );
  const totalWords = (mib * MiB) / 4;
  const chunks: Uint32Array[] = [];
  try {
    for (let left = totalWords; left > 0; left -= CHUNK_WORDS)
      chunks.push(new Uint32Array(Math.min(left, CHUNK_WORDS)));
  } catch (err) {
    throw new Error(`memory-test: could not allocate ${mib} MiB: ${describeError(err)}`, { cause: err });
  }
  const figures = await checkPatterns(chunks, {
    signal: ctx.signal,
    onPattern: (pattern, percent) => {
      ctx.progress("memory pattern checked", { pattern, percent });
    },
  });
  const bytesPerPass = totalWords * 4 * PATTERNS.length;
  return {
    mib,
    memAvailableMiB: available,
    patterns: figures.patterns,
    mismatches: figures.mismatches,
    firstMismatch: figures.firstMismatch,
    writeMBs: round(bytesPerPass / 1e6 / (figures.writeMs / 1000)),
    readMBs: round(bytesPerPass / 1e6 / (figures.readMs / 1000)),
    edac: await readEdac(ctx.root),
  };
};

/** Reads of one disk, by offset: a FileHandle on a machine, a fake in tests (EIO cannot be made on a file). */
export interface BlockReader {
  read: (buffer: Buffer, offset: number) => Promise<number>;
}

export interface DiskReadFigures {
  sequential: { bytes: number; seconds: number; MBs: number };
  random: { samples: number; bytes: number; seconds: number; MBs: number; avgLatencyMs: number };
  bytesRead: number;
  readErrors: number;
  firstErrorOffset: number | null;
}

const RANDOM_READ_BYTES = 4096;
const SEQUENTIAL_CHUNK = MiB;

/**
 * Reads `sequentialBytes` from the start, then `samples` 4 KiB blocks at random aligned offsets. An
 * EIO (an unreadable sector) is counted and the next block read; any other error ends the disk's run.
 * Reads go through the page cache, which is cold on a maintenance boot: the first run measures the disk.
 */
export async function measureReads(
  reader: BlockReader,
  sizeBytes: number,
  options: {
    sequentialBytes: number;
    samples: number;
    signal: AbortSignal;
    onProgress: (percent: number) => void;
  },
): Promise<DiskReadFigures> {
  let bytesRead = 0;
  let readErrors = 0;
  let firstErrorOffset: number | null = null;
  const readAt = async (buffer: Buffer, offset: number): Promise<number> => {
    try {
      const got = await reader.read(buffer, offset);
      bytesRead += got;
      return got;
    } catch (err) {
      if (!(err instanceof Error && "code" in err && err.code === "EIO")) throw err;
      readErrors += 1;
      firstErrorOffset ??= offset;
      return 0;
    }
  };
  const sequentialBytes = Math.min(options.sequentialBytes, sizeBytes);
  const chunk = Buffer.alloc(SEQUENTIAL_CHUNK);
  let started = performance.now();
  let sequentialDone = 0;
  for (let offset = 0; offset < sequentialBytes; offset += SEQUENTIAL_CHUNK) {
    options.signal.throwIfAborted();
    const length = Math.min(SEQUENTIAL_CHUNK, sequentialBytes - offset);
    sequentialDone += await readAt(chunk.subarray(0, length), offset);
    options.onProgress(Math.floor((offset / sequentialBytes) * 80));
  }
  const sequentialSeconds = (performance.now() - started) / 1000;
  const block = Buffer.alloc(RANDOM_READ_BYTES);
  const blocks = Math.floor(sizeBytes / RANDOM_READ_BYTES);
  started = performance.now();
  let randomDone = 0;
  const samples = blocks > 0 ? options.samples : 0;
  for (let i = 0; i < samples; i++) {
    options.signal.throwIfAborted();
    randomDone += await readAt(block, Math.floor(Math.random() * blocks) * RANDOM_READ_BYTES);
  }
  const randomSeconds = (performance.now() - started) / 1000;
  const rate = (bytes: number, seconds: number): number => (seconds > 0 ? round(bytes / 1e6 / seconds) : 0);
  return {
    sequential: {
      bytes: sequentialDone,
      seconds: round(sequentialSeconds, 3),
      MBs: rate(sequentialDone, sequentialSeconds),
    },
    random: {
      samples,
      bytes: randomDone,
      seconds: round(randomSeconds, 3),
      MBs: rate(randomDone, randomSeconds),
      avgLatencyMs: samples ? round((randomSeconds * 1000) / samples, 3) : 0,
    },
    bytesRead,
    readErrors,
    firstErrorOffset,
  };
}

const diskRead = async (ctx: MaintenanceStepContext): Promise<Record<string, unknown>> => {
  const mib = numberParam(ctx.params, "mib", 64, { min: 1, max: 2 ** 20 });
  const samples = Math.floor(numberParam(ctx.params, "samples", 64, { min: 0, max: 100_000 }));
  const disks: Record<string, unknown>[] = [];
  const total = ctx.inventory.disks.length;
  let nextProgress = 0;
  for (const [n, disk] of ctx.inventory.disks.entries()) {
    const path = join(ctx.root, "dev", disk.name);
    const sectors = await readText(join(ctx.root, "sys/block", disk.name, "size"));
    const sizeBytes = sectors === null ? disk.sizeBytes : Number(sectors) * 512;
    let handle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      disks.push({ disk: disk.name, sizeBytes, error: `cannot open ${path}: ${describeError(err)}` });
      continue;
    }
    try {
      const figures = await measureReads(
        { read: async (buffer, offset) => (await handle.read(buffer, 0, buffer.length, offset)).bytesRead },
        sizeBytes,
        {
          sequentialBytes: Math.floor(mib * MiB),
          samples,
          signal: ctx.signal,
          onProgress: (percent) => {
            if (performance.now() < nextProgress) return;
            nextProgress = performance.now() + PROGRESS_EVERY_MS;
            ctx.progress("reading", {
              disk: disk.name,
              percent: Math.floor(((n + percent / 100) / total) * 100),
            });
          },
        },
      );
      disks.push({ disk: disk.name, sizeBytes, ...figures });
    } catch (err) {
      ctx.signal.throwIfAborted();
      disks.push({ disk: disk.name, sizeBytes, error: `reading ${path}: ${describeError(err)}` });
    } finally {
      await handle.close();
    }
  }
  if (disks.length && disks.every((d) => "error" in d))
    throw new Error(`no disk could be read: ${disks.map((d) => String(d.error)).join("; ")}`);
  return { mib, samples, disks };
};

const smart = async (ctx: MaintenanceStepContext): Promise<Record<string, unknown>> => {
  const smartctl = join(ctx.imageDir, "bin/smartctl");
  const disks: Record<string, unknown>[] = [];
  for (const [n, disk] of ctx.inventory.disks.entries()) {
    const path = join(ctx.root, "dev", disk.name);
    let stdout: string;
    try {
      ({ stdout } = await ctx.exec(smartctl, ["-j", "-H", "-A", path], {
        timeoutMs: 60_000,
        signal: ctx.signal,
        env: { LD_LIBRARY_PATH: join(ctx.imageDir, "lib") },
      }));
    } catch (err) {
      // Its exit status is a bit mask and it prints its JSON whatever the status; only no JSON is a failure.
      const out = err instanceof Error && "stdout" in err && typeof err.stdout === "string" ? err.stdout : "";
      if (!out.trim())
        throw new Error(`${smartctl} on ${path} gave no report: ${describeError(err)}`, { cause: err });
      stdout = out;
    }
    let json: unknown;
    try {
      json = JSON.parse(stdout);
    } catch {
      throw new Error(`${smartctl} on ${path} printed no JSON: ${stdout.slice(0, 200)}`);
    }
    disks.push({ disk: disk.name, ...parseSmartctl(json) });
    ctx.progress("SMART read", {
      disk: disk.name,
      percent: Math.floor(((n + 1) / ctx.inventory.disks.length) * 100),
    });
  }
  return {
    disks,
    supported: disks.filter((d) => d.supported === true).length,
    failing: disks.filter((d) => d.health === "failed").map((d) => d.disk),
  };
};

export const steps: MaintenanceProgram = {
  "cpu-benchmark": {
    describe:
      "sha256 over an in-memory buffer on one core for `seconds` (default 2): MB/s, CPU model, count and MHz",
    run: cpuBenchmark,
  },
  "memory-test": {
    describe:
      "Write and verify `mib` MiB (default 64, at most half of MemAvailable) with classic patterns: mismatches, MB/s",
    run: memoryTest,
  },
  "disk-read": {
    describe:
      "Read `mib` MiB (default 64) of each disk sequentially and `samples` (default 64) random 4 KiB blocks: MB/s, read errors",
    run: diskRead,
  },
  smart: {
    describe: "SMART health and key attributes of each disk (smartctl -j -H -A); disks without SMART say so",
    run: smart,
  },
};
