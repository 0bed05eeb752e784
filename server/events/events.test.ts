// The replay ring's bounds (a reconnect inside it resumes exactly, one past it gets `too-old`) and the
// progress throttle (at most one event per interval per machine and kind, the last figure never lost).
import { expect, it } from "vitest";
import type { LiveEvent } from "../../protocol/index.js";
import { EventBus, type NewLiveEvent } from "./bus.js";
import { ProgressReporter } from "./progress.js";

const step = (machineId: string, seq: number): NewLiveEvent => ({
  type: "step",
  data: { machineId, entry: { seq, machineId, at: "t", event: "e", data: {} } },
});

it("the ring replays what it holds after an id, filtered; older ids and unknown ones get a reset", () => {
  const bus = new EventBus(5, 1_000);
  const published = Array.from({ length: 8 }, (_, i) => bus.publish(step(i % 2 ? "b" : "a", i)));
  expect(published.map((e) => e.id)).toEqual([
    1_000_000, 1_000_001, 1_000_002, 1_000_003, 1_000_004, 1_000_005, 1_000_006, 1_000_007,
  ]);
  // Holds the last 5 (ids …003 to …007): after …002 is still exact.
  expect(bus.subscribe({}, () => undefined, 1_000_002).missed).toEqual(published.slice(3));
  expect(bus.subscribe({ machine: "a" }, () => undefined, 1_000_002).missed).toEqual([
    published[4],
    published[6],
  ]);
  expect(bus.subscribe({}, () => undefined, 1_000_001).missed).toEqual([
    { id: 1_000_007, type: "reset", data: { reason: "too-old", latestId: 1_000_007 } },
  ]);
  for (const id of [999_999_999, 1_000_008])
    expect(bus.subscribe({}, () => undefined, id).missed[0]).toMatchObject({
      data: { reason: "unknown-id" },
    });
  expect(bus.subscribe({}, () => undefined, 1_000_007).missed).toEqual([]);
  // Live delivery follows the filter too.
  const seen: LiveEvent[] = [];
  bus.subscribe({ machine: "b" }, (e) => seen.push(e));
  bus.publish(step("a", 9));
  bus.publish(step("b", 10));
  expect(seen.map((e) => e.id)).toEqual([1_000_009]);
});

it("progress is throttled per machine and kind, and the last figure of a burst still goes out", async () => {
  const events: NewLiveEvent[] = [];
  const progress = new ProgressReporter((e) => events.push(e), 200);
  for (let done = 0; done <= 10; done++) progress.report("m", "capture", done * 100, null);
  progress.report("n", "erase", 5, 10);
  expect(events.map((e) => e.data)).toMatchObject([
    { machineId: "m", kind: "capture", bytesDone: 0, bytesPerSecond: null },
    { machineId: "n", kind: "erase", bytesDone: 5, bytesTotal: 10 },
  ]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // The trailing figure of the burst, with the rate since the first.
  expect(events[2]?.data).toMatchObject({ machineId: "m", bytesDone: 1_000 });
  const rate = events[2]?.type === "progress" ? events[2].data.bytesPerSecond : null;
  expect(rate).toBeGreaterThan(1_000 / 0.4);
  expect(rate).toBeLessThan(1_000 / 0.15);
  // A finished transfer goes out at once, throttle or not.
  progress.report("n", "erase", 10, 10);
  expect(events.at(-1)?.data).toMatchObject({ machineId: "n", bytesDone: 10 });
  expect(events).toHaveLength(4);
  progress.close();
});
