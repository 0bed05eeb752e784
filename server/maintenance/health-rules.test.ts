import { expect, it } from "vitest";
import type { Policy } from "../../protocol/index.js";
import { sampleInventory } from "../test-support.js";
import { beyondThreshold, readHealth } from "./health-rules.js";

const maintenance = { image: "diagnostic", mode: "passive" as const };
const policy: Policy = {
  rules: [],
  health: [
    { name: "slow-memory", match: [], figure: "memoryBandwidthMBs", below: 1000, maintenance },
    {
      name: "hot-x2",
      match: [{ fact: "product", glob: "X2*" }],
      figure: "temperatureC",
      above: 80,
      maintenance,
    },
    { name: "disk-errors", match: [], figure: "diskErrors", above: 0, maintenance },
  ],
};

it("a rule is beyond its threshold strictly below `below` or strictly above `above`", () => {
  const [slow, hot] = policy.health ?? [];
  if (!slow || !hot) throw new Error("fixture");
  expect([beyondThreshold(slow, 999), beyondThreshold(slow, 1000), beyondThreshold(slow, 1001)]).toEqual([
    true,
    false,
    false,
  ]);
  expect([beyondThreshold(hot, 80), beyondThreshold(hot, 81)]).toEqual([false, true]);
});

it("reads only the rules that watch this machine and whose figure the report carries", () => {
  const x1 = sampleInventory(); // product X1: hot-x2 does not watch it
  const readings = readHealth(policy, x1, { memoryBandwidthMBs: 400, temperatureC: 95 });
  expect(readings.map((r) => [r.rule.name, r.value, r.beyond])).toEqual([["slow-memory", 400, true]]);
  const x2 = sampleInventory({ system: { manufacturer: "Acme", product: "X2", serial: "S", uuid: null } });
  expect(
    readHealth(policy, x2, { temperatureC: 95, diskErrors: 0 }).map((r) => [r.rule.name, r.beyond]),
  ).toEqual([
    ["hot-x2", true],
    ["disk-errors", false],
  ]);
  // Without an inventory only the rules that match every machine apply.
  expect(readHealth(policy, null, { temperatureC: 95, diskErrors: 3 }).map((r) => r.rule.name)).toEqual([
    "disk-errors",
  ]);
  expect(readHealth({ rules: [] }, x1, { memoryBandwidthMBs: 1 })).toEqual([]);
});
