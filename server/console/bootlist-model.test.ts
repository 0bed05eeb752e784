import { expect, it } from "vitest";
import type { DifferenceList } from "../../protocol/difference.js";
import { sampleMachine } from "../test-samples.js";
import { buildRows, filterRows, parseFilter, sortRows } from "./bootlist-model.js";
import { progressFromLog } from "./progress.js";

const AT = "2026-01-01T00:00:00.000Z";

const machines = [
  sampleMachine("m-a", AT, { category: "imaging", expected: "installed", tags: ["rack12"] }),
  sampleMachine("m-b", "2026-01-02T00:00:00.000Z", { category: "installed", expected: "installed" }),
  sampleMachine("m-c", AT, { category: "inventoried", inventory: null }),
];
const differences: DifferenceList = {
  differences: [
    {
      machineId: "m-a",
      current: "imaging",
      expected: "installed",
      commands: [{ kind: "boot-installed", onSuccess: "installed" }],
      blocked: null,
    },
  ],
  enrollment: [{ machineId: "m-c", state: "awaiting-approval", reason: "approve mode", sharedUuid: null }],
  drift: [],
  drivers: [],
};

it("each row says the difference and why", () => {
  const rows = buildRows(machines, differences);
  expect(rows.map((r) => [r.machine.id, r.difference, r.reason])).toEqual([
    ["m-a", "imaging → installed", "next: boot-installed → installed"],
    ["m-b", "none", ""],
    ["m-c", "", "awaiting-approval: approve mode"],
  ]);
});

it("filters by words and by facts as the server's selectors read them, and sorts by any column", () => {
  const rows = buildRows(machines, differences);
  const ids = (filter: string) => filterRows(rows, parseFilter(filter)).map((r) => r.machine.id);
  expect(ids("product=X1")).toEqual(["m-a", "m-b"]);
  expect(ids("tag=rack12")).toEqual(["m-a"]);
  expect(ids("category=installed")).toEqual(["m-b"]);
  expect(ids("IMAGING")).toEqual(["m-a"]);
  expect(ids("product=X1 installed")).toEqual(["m-a", "m-b"]);
  expect(ids("product=Y9")).toEqual([]);
  expect(() => parseFilter("=X1")).not.toThrow();
  expect(sortRows(rows, { column: "lastSeen", descending: true }).map((r) => r.machine.id)[0]).toBe("m-b");
  expect(sortRows(rows, { column: "category", descending: false }).map((r) => r.machine.category)).toEqual([
    "imaging",
    "installed",
    "inventoried",
  ]);
});

it("image progress comes from the step log's agent-progress entries while their command runs", () => {
  const entry = (seq: number, event: string, data: Record<string, unknown>) => ({
    seq,
    machineId: "m-a",
    at: `2026-01-01T00:00:0${seq}.000Z`,
    event,
    data,
  });
  const progress = { command: "c1", plugin: "image-stream", step: "stream", message: "image progress" };
  const log = [
    entry(1, "command-leased", { command: "c1", kind: "write-image" }),
    entry(2, "agent-progress", { ...progress, bytes: 10, totalBytes: 100, rateMBs: 2 }),
    entry(3, "agent-progress", { ...progress, message: "image transfer", image: "tiny" }),
    entry(4, "agent-progress", { ...progress, bytes: 60, totalBytes: 100, rateMBs: 2.5 }),
  ];
  expect(progressFromLog("m-a", log)).toEqual({
    machineId: "m-a",
    kind: "image",
    bytesDone: 60,
    bytesTotal: 100,
    bytesPerSecond: 2.5e6,
    at: "2026-01-01T00:00:04.000Z",
  });
  expect(progressFromLog("m-a", [...log, entry(5, "command-succeeded", { command: "c1" })])).toBeNull();
  expect(progressFromLog("m-a", log.slice(0, 1))).toBeNull();
});
