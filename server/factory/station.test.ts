// The station file reader: a good YAML station, and bad ones refused with each problem's path and line.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { hasCode } from "../../protocol/index.js";
import { loadStationFile, parseStation } from "./station.js";

const dir = mkdtempSync(join(tmpdir(), "bootwright-station-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const GOOD = `name: line-1
image: tiny
inventory: { product: "X1*", minMemoryMiB: 4096, diskCount: 2 }
burnIn:
  steps:
    - { name: cpu-benchmark, params: { seconds: 300 } }
    - { name: memory-test, params: { mib: 1024 } }
  thresholds:
    - { step: cpu-benchmark, figure: sha256MBs, min: 200 }
    - { step: smart, figure: failing, max: 0, required: false }
`;

it("reads a YAML station with its defaults (diagnostic image, 60 min, power off)", () => {
  const parsed = parseStation(GOOD, "yaml");
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  expect(parsed.station).toMatchObject({
    name: "line-1",
    image: "tiny",
    inventory: { product: "X1*", minMemoryMiB: 4096, diskCount: 2 },
    burnIn: { image: "diagnostic", timeoutMinutes: 60 },
    powerOff: true,
  });
  expect(parsed.station.burnIn.thresholds[0]).toMatchObject({ required: true, min: 200 });
});

it("names the line of each problem: an unknown key, a threshold with no limit, a bad figure path", () => {
  const bad = `name: line-1
image: tiny
burnIn:
  steps: [{ name: cpu-benchmark }]
  thresholds:
    - { step: cpu-benchmark, figure: sha256MBs }
    - { step: disk-read, figure: "disks..x", max: 0 }
  colour: blue
`;
  const parsed = parseStation(bad, "yaml");
  expect(parsed.ok).toBe(false);
  if (parsed.ok) return;
  expect(parsed.issues.map((i) => [i.path, i.line])).toEqual(
    expect.arrayContaining([
      ["burnIn.thresholds.0", 6],
      ["burnIn.thresholds.1.figure", 7],
      ["burnIn.colour", 8],
    ]),
  );
  expect(parsed.issues.find((i) => i.path === "burnIn.thresholds.0")?.message).toMatch(/min, max or both/);
});

it("refuses invalid JSON, and a file of an unknown extension, with a stable code", () => {
  const parsed = parseStation('{\n  "name": "x",\n  "image": tiny\n}', "json");
  expect(parsed.ok ? [] : parsed.issues.map((i) => i.message)).toEqual([
    expect.stringMatching(/^not valid JSON/),
  ]);
  const file = join(dir, "station.txt");
  writeFileSync(file, GOOD);
  let caught: unknown;
  try {
    loadStationFile(file);
  } catch (err) {
    caught = err;
  }
  expect(hasCode(caught, "invalid_station_file")).toBe(true);
  const yaml = join(dir, "station.yaml");
  writeFileSync(yaml, GOOD);
  expect(loadStationFile(yaml).station.name).toBe("line-1");
});
