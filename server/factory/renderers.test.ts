// The traveler's two printouts: OCP Test & Validation JSON Lines (schema 2.0 artifacts, in order, with
// the station's thresholds as validators) and the printable HTML page (escaped, verdict first).
import { expect, it } from "vitest";
import { StationFile, type Traveler } from "../../protocol/index.js";
import { travelerHtml } from "./html.js";
import { ocpArtifacts } from "./ocp.js";

const STATION = StationFile.parse({
  name: "line-1",
  image: "tiny",
  burnIn: {
    steps: [{ name: "memory-test" }],
    thresholds: [
      { step: "memory-test", figure: "mismatches", max: 0 },
      { step: "memory-test", figure: "writeMBs", min: 1e9, serial: "BAD-*" },
    ],
  },
});

function failedTraveler(): Traveler {
  return {
    serial: "BAD-<7>",
    machineId: "m-1",
    station: "line-1",
    state: "failed",
    stage: "burn-in",
    stages: [
      {
        stage: "inventory",
        attempt: 1,
        startedAt: "t0",
        endedAt: "t1",
        result: "passed",
        figures: { product: "U1", memoryMiB: 736, diskCount: 1 },
        reason: null,
      },
      {
        stage: "burn-in",
        attempt: 1,
        startedAt: "t1",
        endedAt: "t2",
        result: "failed",
        figures: { "memory-test": { mismatches: 0, writeMBs: 296.4 } },
        reason: "memory-test.writeMBs 296.4 below min 1000000000",
      },
    ],
    inventory: {
      manufacturer: "Acme",
      product: "U1",
      serial: "BAD-<7>",
      uuid: null,
      memoryMiB: 736,
      cpus: 1,
      disks: [{ name: "vda", sizeBytes: 2 ** 27 }],
    },
    image: null,
    burnInCommand: null,
    createdAt: "t0",
    updatedAt: "t2",
  };
}

it("OCP: schema version, run start with the DUT, a step per stage attempt with measurements and validators, run end FAIL", () => {
  const lines = ocpArtifacts(failedTraveler(), STATION);
  expect(lines.map((l) => l.sequenceNumber)).toEqual(lines.map((_, i) => i));
  expect(lines[0]).toMatchObject({ schemaVersion: { major: 2, minor: 0 }, timestamp: "t0" });
  expect(lines[1]).toMatchObject({
    testRunArtifact: {
      testRunStart: {
        name: "bootwright factory line-1",
        dutInfo: {
          dutInfoId: "BAD-<7>",
          hardwareInfos: [
            { hardwareInfoId: "system", serialNumber: "BAD-<7>", partNumber: "U1", manufacturer: "Acme" },
            { hardwareInfoId: "disk-vda", name: "vda" },
          ],
          softwareInfos: [],
        },
      },
    },
  });
  const step = (id: string) =>
    lines
      .filter((l) => (l.testStepArtifact as { testStepId?: string } | undefined)?.testStepId === id)
      .map((l) => l.testStepArtifact);
  expect(step("1")).toEqual([
    { testStepId: "1", testStepStart: { name: "burn-in #1" } },
    {
      testStepId: "1",
      measurement: {
        name: "memory-test.mismatches",
        value: 0,
        validators: [{ name: "mismatches max", type: "LESS_THAN_OR_EQUAL", value: 0 }],
      },
    },
    {
      testStepId: "1",
      measurement: {
        name: "memory-test.writeMBs",
        value: 296.4,
        validators: [{ name: "writeMBs min", type: "GREATER_THAN_OR_EQUAL", value: 1e9 }],
      },
    },
    {
      testStepId: "1",
      diagnosis: {
        verdict: "burn-in-fail",
        type: "FAIL",
        message: "memory-test.writeMBs 296.4 below min 1000000000",
        hardwareInfoId: "system",
      },
    },
    { testStepId: "1", testStepEnd: { status: "COMPLETE" } },
  ]);
  expect(step("0")).toContainEqual({ testStepId: "0", measurement: { name: "memoryMiB", value: 736 } });
  expect(lines.at(-1)).toMatchObject({
    testRunArtifact: { testRunEnd: { status: "COMPLETE", result: "FAIL" } },
    timestamp: "t2",
  });
});

it("OCP: a unit still on the line has no run end; a passed one ends PASS with its image as software info", () => {
  const running = { ...failedTraveler(), state: "in-progress" as const };
  expect(
    ocpArtifacts(running, STATION).some(
      (l) => "testRunArtifact" in l && JSON.stringify(l).includes("testRunEnd"),
    ),
  ).toBe(false);
  const passed: Traveler = {
    ...failedTraveler(),
    serial: "GOOD-1",
    state: "passed",
    stages: [],
    image: {
      name: "tiny",
      sha256: "a".repeat(64),
      rawSha256: "b".repeat(64),
      readBackSha256: "b".repeat(64),
      readBackMatches: true,
    },
  };
  const lines = ocpArtifacts(passed, STATION);
  expect(lines[1]).toMatchObject({
    testRunArtifact: {
      testRunStart: {
        dutInfo: {
          softwareInfos: [
            {
              softwareInfoId: "image",
              name: "tiny",
              version: `sha256:${"a".repeat(64)}`,
              softwareType: "SYSTEM",
            },
          ],
        },
      },
    },
  });
  expect(lines.at(-1)).toMatchObject({ testRunArtifact: { testRunEnd: { result: "PASS" } } });
});

it("HTML: the verdict, the unit and every stage with its reason and figures, all escaped", () => {
  const html = travelerHtml(failedTraveler());
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).toContain('<p class="verdict failed">FAILED</p>');
  expect(html).toContain("Traveler — unit BAD-&lt;7&gt;");
  expect(html).not.toContain("BAD-<7>");
  expect(html).toContain("memory-test.writeMBs 296.4 below min 1000000000");
  expect(html).toContain("memory-test.writeMBs: 296.4");
  expect(html).toMatch(/<tr class="failed"><td>burn-in #1<\/td>/);
  expect(html).toContain("<th>Image</th><td>not written</td>");
  expect(html).not.toMatch(/<script/);
});
