import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory, StepParams } from "../../../protocol/index.js";
import { parseCpuinfo } from "../../inventory/proc-parsers.js";
import { CommandError, run } from "../../shared/run-command.js";
import type { Exec } from "../plugin.js";
import { refuseAll, TEST_INVENTORY } from "../test-support.js";
import { checkPatterns, measureReads, parseCpuMhz, parseMemAvailableMiB, steps } from "./diagnostic.js";
import type { MaintenanceStepContext } from "./program.js";
import { parseSmartctl } from "./smartctl.js";

const MiB = 2 ** 20;
const FIXTURES = join(import.meta.dirname, "fixtures/smartctl");
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

let root: string;
let imageDir: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "bootwright-diagnostic-"));
  mkdirSync(join(root, "proc"));
  // Read and written, not copied: /proc files say they are 0 bytes long, and copyFile believes it.
  writeFileSync(join(root, "proc/cpuinfo"), readFileSync("/proc/cpuinfo"));
  writeFileSync(join(root, "proc/meminfo"), readFileSync("/proc/meminfo"));
  mkdirSync(join(root, "dev"));
  for (const [name, bytes] of [
    ["vda", 4 * MiB],
    ["vdb", 3 * MiB + 4096],
  ] as const) {
    mkdirSync(join(root, "sys/block", name), { recursive: true });
    writeFileSync(join(root, "sys/block", name, "size"), `${bytes / 512}\n`);
    writeFileSync(join(root, "dev", name), Buffer.alloc(bytes, 0x5a));
  }
  imageDir = join(root, "image");
  mkdirSync(join(imageDir, "bin"), { recursive: true });
  mkdirSync(join(imageDir, "lib"));
  symlinkSync("/usr/sbin/smartctl", join(imageDir, "bin/smartctl"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const DISKS: Inventory["disks"] = [
  { name: "vda", sizeBytes: 4 * MiB },
  { name: "vdb", sizeBytes: 3 * MiB + 4096 },
];

function context(
  params: StepParams,
  options: { exec?: Exec; root?: string; disks?: Inventory["disks"] } = {},
) {
  const progress: { message: string; percent?: number }[] = [];
  const ctx: MaintenanceStepContext = {
    machine: { id: "m-1", serverUrl: "http://server.test", credential: "bwm_test" },
    inventory: { ...TEST_INVENTORY, disks: options.disks ?? DISKS },
    root: options.root ?? root,
    imageDir,
    params,
    signal: AbortSignal.timeout(20_000),
    exec: options.exec ?? refuseAll,
    progress: (message, fields) =>
      progress.push({ message, ...(fields?.percent === undefined ? {} : { percent: fields.percent }) }),
  };
  return { ctx, progress };
}

async function runStep(name: string, ctx: MaintenanceStepContext): Promise<Record<string, unknown>> {
  const step = steps[name];
  if (!step) throw new Error(`no step ${name}`);
  return step.run(ctx);
}

describe("cpu-benchmark", () => {
  it("hashes for the time asked and reads the CPU from cpuinfo", async () => {
    const { ctx, progress } = context({ seconds: 0.5 });
    const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
    const result = await runStep("cpu-benchmark", ctx);
    expect(result).toMatchObject({
      threads: 1,
      model: parseCpuinfo(cpuinfo).model,
      logicalCpus: parseCpuinfo(cpuinfo).logicalCount,
      mhz: parseCpuMhz(cpuinfo),
    });
    expect(result.seconds).toBeGreaterThanOrEqual(0.5);
    expect(result.seconds).toBeLessThan(1.5);
    expect(result.sha256MBs).toBeGreaterThan(10);
    expect(result.hashedBytes).toBeGreaterThan(0);
    expect(progress).toEqual([]); // half a second: no progress line (one a second at most)
  });

  it("refuses a duration out of bounds, naming the parameter", async () => {
    await expect(runStep("cpu-benchmark", context({ seconds: 0.1 }).ctx)).rejects.toThrow(
      "parameter seconds must be a number from 0.5 to 30 (got 0.1)",
    );
  });

  it("averages the processors' clocks", () => {
    expect(
      parseCpuMhz("processor\t: 0\ncpu MHz\t\t: 2000.000\n\nprocessor\t: 1\ncpu MHz\t\t: 3000.500\n"),
    ).toBe(2500.3);
    expect(parseCpuMhz("processor\t: 0\n")).toBeNull();
  });
});

describe("memory-test", () => {
  it("writes and verifies every pattern without a mismatch", async () => {
    const { ctx, progress } = context({ mib: 8 });
    const result = await runStep("memory-test", ctx);
    expect(result).toMatchObject({ mib: 8, mismatches: 0, firstMismatch: null });
    expect((result.patterns as { pattern: string }[]).map((p) => p.pattern)).toEqual([
      "0x00",
      "0xFF",
      "0x55",
      "0xAA",
      "walking ones",
      "own address",
    ]);
    expect(result.writeMBs).toBeGreaterThan(0);
    expect(result.readMBs).toBeGreaterThan(0);
    expect(result.memAvailableMiB).toBe(
      parseMemAvailableMiB(readFileSync(join(root, "proc/meminfo"), "utf8")),
    );
    expect(progress.at(-1)?.percent).toBe(100);
  });

  it("finds a stuck bit (played between write and verify: a test cannot break real memory)", async () => {
    const chunks = [new Uint32Array(256), new Uint32Array(256)];
    // Bit 3 of word 300 (byte 1200, in the second chunk) stuck at 0.
    const figures = await checkPatterns(chunks, {
      signal: AbortSignal.timeout(5_000),
      onPattern: () => undefined,
      afterWrite: () => {
        const word = chunks[1]?.[300 - 256] ?? 0;
        chunks[1]?.set([(word & ~0b1000) >>> 0], 300 - 256);
      },
    });
    // 0xFF and 0xAA have bit 3 set; 0x00, 0x55, walking ones (bit 300 % 32 = 12) and 1200 (0x4b0) do not.
    expect(figures.patterns.map((p) => p.mismatches)).toEqual([0, 1, 0, 1, 0, 0]);
    expect(figures.mismatches).toBe(2);
    expect(figures.firstMismatch).toEqual({
      pattern: "0xFF",
      offsetBytes: 1200,
      expected: "0xffffffff",
      actual: "0xfffffff7",
    });
  });

  it("refuses more than half of MemAvailable, naming both numbers", async () => {
    const small = mkdtempSync(join(root, "small-"));
    mkdirSync(join(small, "proc"));
    const meminfo = readFileSync("/proc/meminfo", "utf8").replace(
      /^MemAvailable:.*$/m,
      "MemAvailable:      40960 kB",
    );
    writeFileSync(join(small, "proc/meminfo"), meminfo);
    await expect(runStep("memory-test", context({ mib: 64 }, { root: small }).ctx)).rejects.toThrow(
      `memory-test: 64 MiB asked but at most half of MemAvailable may be tested: MemAvailable is 40 MiB (${small}/proc/meminfo), so at most 20 MiB`,
    );
  });
});

describe("disk-read", () => {
  it("reads each disk sequentially and at random offsets", async () => {
    const result = await runStep("disk-read", context({ mib: 2, samples: 16 }).ctx);
    const disks = result.disks as Record<string, unknown>[];
    expect(disks).toHaveLength(2);
    expect(disks[0]).toMatchObject({
      disk: "vda",
      sizeBytes: 4 * MiB,
      sequential: { bytes: 2 * MiB },
      random: { samples: 16, bytes: 16 * 4096 },
      bytesRead: 2 * MiB + 16 * 4096,
      readErrors: 0,
      firstErrorOffset: null,
    });
  });

  it("reads a disk smaller than `mib` whole, and reports a disk it cannot open without failing", async () => {
    const disks = [...DISKS, { name: "vdz", sizeBytes: MiB }];
    const result = await runStep("disk-read", context({ mib: 64, samples: 0 }, { disks }).ctx);
    const [, vdb, vdz] = result.disks as Record<string, unknown>[];
    expect(vdb).toMatchObject({ disk: "vdb", sequential: { bytes: 3 * MiB + 4096 }, random: { samples: 0 } });
    expect(vdz).toMatchObject({ disk: "vdz", sizeBytes: MiB });
    expect(vdz?.error).toMatch(new RegExp(`^cannot open ${root}/dev/vdz: .*ENOENT`));
  });

  it("fails when no disk can be read at all", async () => {
    await expect(
      runStep("disk-read", context({}, { disks: [{ name: "vdz", sizeBytes: MiB }] }).ctx),
    ).rejects.toThrow(/^no disk could be read: cannot open .*vdz/);
  });

  it("counts EIO as read errors and goes on (a fake reader: a file cannot make one)", async () => {
    const eio = (): Error => Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
    const reader = {
      read: (buffer: Buffer, offset: number): Promise<number> =>
        buffer.length === MiB && (offset === MiB || offset === 3 * MiB)
          ? Promise.reject(eio())
          : Promise.resolve(buffer.length),
    };
    const figures = await measureReads(reader, 8 * MiB, {
      sequentialBytes: 4 * MiB,
      samples: 4,
      signal: AbortSignal.timeout(5_000),
      onProgress: () => undefined,
    });
    expect(figures).toMatchObject({
      sequential: { bytes: 2 * MiB },
      readErrors: 2,
      firstErrorOffset: MiB,
    });
    expect(figures.bytesRead).toBe(2 * MiB + figures.random.bytes);
  });
});

describe("parseSmartctl (captured output)", () => {
  it("reads health and attributes of QEMU's emulated ATA disk", () => {
    expect(parseSmartctl(JSON.parse(fixture("qemu-ide-hd.json")))).toEqual({
      supported: true,
      reason: null,
      health: "passed",
      reallocatedSectors: 0,
      pendingSectors: null,
      powerOnHours: 1,
      temperatureC: 31,
      failingAttributes: [],
      exitStatus: 0,
      exitMeaning: [],
    });
  });

  it("says a virtio disk has no SMART, in smartctl's words", () => {
    for (const [name, device] of [
      ["host-virtio-blk.json", "/dev/vda"],
      ["qemu-virtio-blk.json", "/dev/vda"],
    ] as const)
      expect(parseSmartctl(JSON.parse(fixture(name)))).toMatchObject({
        supported: false,
        reason: `${device}: Unable to detect device type`,
        health: "unknown",
        exitStatus: 1,
        exitMeaning: ["command line did not parse"],
      });
  });

  it("reports a failing disk (derived from the capture: passed set false, exit bit 3 set)", () => {
    const json = JSON.parse(fixture("qemu-ide-hd.json")) as {
      smart_status: { passed: boolean };
      smartctl: { exit_status: number };
      ata_smart_attributes: { table: { id: number; when_failed: string; raw: { value: number } }[] };
    };
    json.smart_status.passed = false;
    json.smartctl.exit_status = 8 | 16;
    const realloc = json.ata_smart_attributes.table.find((a) => a.id === 5);
    if (!realloc) throw new Error("the capture has attribute 5");
    realloc.when_failed = "FAILING_NOW";
    realloc.raw.value = 1200;
    expect(parseSmartctl(json)).toMatchObject({
      health: "failed",
      reallocatedSectors: 1200,
      failingAttributes: ["Reallocated_Sector_Ct (FAILING_NOW)"],
      exitMeaning: ["SMART status: DISK FAILING", "prefail attributes at or below threshold"],
    });
  });

  it("refuses what is not smartctl output", () => {
    expect(() => parseSmartctl({ hello: 1 })).toThrow("not smartctl JSON output");
  });
});

describe("smart", () => {
  it("runs the image's smartctl with its libraries on each disk and reports both shapes", async () => {
    const calls: { command: string; argv: readonly string[]; env: unknown }[] = [];
    const exec: Exec = (command, argv, options) => {
      calls.push({ command, argv, env: options.env });
      if (argv.at(-1)?.endsWith("/vda"))
        return Promise.resolve({ stdout: fixture("qemu-ide-hd.json"), stderr: "" });
      // smartctl exits 1 on a virtio disk and still prints its JSON: the real run() keeps that stdout.
      return Promise.reject(
        new CommandError(command, argv, 1, "", { stdout: fixture("host-virtio-blk.json") }),
      );
    };
    const result = await runStep("smart", context({}, { exec }).ctx);
    expect(calls).toEqual(
      ["vda", "vdb"].map((name) => ({
        command: join(imageDir, "bin/smartctl"),
        argv: ["-j", "-H", "-A", join(root, "dev", name)],
        env: { LD_LIBRARY_PATH: join(imageDir, "lib") },
      })),
    );
    expect(result).toMatchObject({
      supported: 1,
      failing: [],
      disks: [
        { disk: "vda", supported: true, health: "passed", powerOnHours: 1, temperatureC: 31 },
        { disk: "vdb", supported: false, reason: "/dev/vda: Unable to detect device type" },
      ],
    });
  });

  it("through the real run(): the host's smartctl on a file exits 1 and its JSON is still read", async () => {
    const result = await runStep(
      "smart",
      context({}, { exec: run, disks: [DISKS[0] ?? { name: "vda", sizeBytes: 0 }] }).ctx,
    );
    expect(result.disks).toEqual([
      expect.objectContaining({
        disk: "vda",
        supported: false,
        reason: `${join(root, "dev/vda")}: Unable to detect device type`,
        exitStatus: 1,
      }),
    ]);
  });

  it("fails when smartctl gives no report at all", async () => {
    const exec: Exec = (command, argv) =>
      Promise.reject(new CommandError(command, argv, null, "spawn ENOENT"));
    await expect(runStep("smart", context({}, { exec }).ctx)).rejects.toThrow(
      /bin\/smartctl on .*vda gave no report: .*spawn ENOENT/,
    );
  });
});
