// The station's decisions on real figures: the diagnostic image's report from a TCG VM (cpu-benchmark,
// memory-test, disk-read and smart, as the maintenance VM test printed them) and inventories.
import { expect, it } from "vitest";
import { StationFile, type MaintenanceReport } from "../../protocol/index.js";
import { sampleInventory } from "../test-samples.js";
import { checkInventory, evaluateBurnIn, figureValues } from "./checks.js";

const REPORT: MaintenanceReport = {
  image: "0".repeat(64),
  ok: true,
  steps: [
    {
      name: "cpu-benchmark",
      params: { seconds: 1 },
      ok: true,
      ms: 1003,
      data: {
        seconds: 1,
        hashedBytes: 91226112,
        sha256MBs: 91.2,
        threads: 1,
        model: "QEMU TCG CPU",
        logicalCpus: 1,
        mhz: 2294.6,
      },
      error: null,
      extra: false,
    },
    {
      name: "memory-test",
      params: { mib: 8 },
      ok: true,
      ms: 2203,
      data: {
        mib: 8,
        memAvailableMiB: 540,
        patterns: 4,
        mismatches: 0,
        firstMismatch: null,
        writeMBs: 296.4,
        readMBs: 141.8,
        edac: null,
      },
      error: null,
      extra: false,
    },
    {
      name: "disk-read",
      params: { mib: 4, samples: 16 },
      ok: true,
      ms: 190,
      data: {
        mib: 4,
        samples: 16,
        disks: [
          { disk: "vda", sizeBytes: 134217728, bytesRead: 4259840, readErrors: 0, firstErrorOffset: null },
          { disk: "vdb", sizeBytes: 134217728, bytesRead: 4259840, readErrors: 2, firstErrorOffset: 4096 },
        ],
      },
      error: null,
      extra: false,
    },
    {
      name: "smart",
      params: {},
      ok: true,
      ms: 40,
      data: { disks: [], supported: 0, failing: [] },
      error: null,
      extra: false,
    },
  ],
};

const station = (thresholds: unknown[]) =>
  StationFile.parse({ name: "l", image: "tiny", burnIn: { steps: [{ name: "cpu-benchmark" }], thresholds } });

it("reads figures by dotted path: * spreads a list, a list at the end counts", () => {
  const disk = REPORT.steps[2]?.data;
  expect(figureValues(disk, ["disks", "*", "readErrors"])).toEqual([0, 2]);
  expect(figureValues(REPORT.steps[3]?.data, ["failing"])).toEqual([0]);
  expect(figureValues(disk, ["nothing"])).toEqual([]);
});

it("passes a unit within every threshold; fails one with the worst figure and the limit it crossed", () => {
  const ok = evaluateBurnIn(
    station([
      { step: "cpu-benchmark", figure: "sha256MBs", min: 10 },
      { step: "memory-test", figure: "mismatches", max: 0 },
      { step: "smart", figure: "failing", max: 0 },
    ]),
    "SN-1",
    REPORT,
  );
  expect(ok).toMatchObject({ ok: true, failures: [] });
  expect(ok.figures["memory-test"]).toMatchObject({ writeMBs: 296.4 });
  const bad = evaluateBurnIn(
    station([{ step: "disk-read", figure: "disks.*.readErrors", max: 0 }]),
    "SN-1",
    REPORT,
  );
  expect(bad.failures).toEqual(["disk-read.disks.*.readErrors 2 above max 0"]);
});

it("applies a per-serial threshold to its unit only; an unmeasured figure fails unless it is optional", () => {
  const override = station([{ step: "memory-test", figure: "writeMBs", min: 1e9, serial: "BAD-*" }]);
  expect(evaluateBurnIn(override, "GOOD-1", REPORT).ok).toBe(true);
  expect(evaluateBurnIn(override, "BAD-7", REPORT).failures).toEqual([
    "memory-test.writeMBs 296.4 below min 1000000000",
  ]);
  const temperature = { step: "smart", figure: "disks.*.temperature", max: 60 };
  expect(evaluateBurnIn(station([temperature]), "SN", REPORT).failures).toEqual([
    "smart.disks.*.temperature was not measured",
  ]);
  expect(evaluateBurnIn(station([{ ...temperature, required: false }]), "SN", REPORT).ok).toBe(true);
  const failedStep = {
    ...REPORT,
    steps: [{ ...REPORT.steps[0], ok: false, error: "killed" }],
  } as MaintenanceReport;
  expect(evaluateBurnIn(station([]), "SN", failedStep).failures).toEqual(["cpu-benchmark failed: killed"]);
});

it("checks the inventory: product glob, memory floor, disk count", () => {
  const s = StationFile.parse({
    name: "l",
    image: "tiny",
    inventory: { product: "X*", minMemoryMiB: 2048, diskCount: 2 },
    burnIn: { steps: [{ name: "cpu-benchmark" }] },
  });
  const verdict = checkInventory(s, sampleInventory());
  expect(verdict.failures).toEqual(["memory 1024 MiB below 2048 MiB", "1 disks, expected 2"]);
  expect(verdict.figures).toEqual({ product: "X1", memoryMiB: 1024, diskCount: 1 });
});
