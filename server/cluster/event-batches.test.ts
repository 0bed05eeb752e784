import { expect, it } from "vitest";
import type { LiveEvent } from "../../protocol/index.js";
import { batchesOf, EventOutbox, othersEvents } from "./event-batches.js";

const event = (n: number): LiveEvent => ({
  id: n,
  type: "category",
  data: { machineId: `m${n}`, category: "ready", expected: null, at: "2026-12-04T00:00:00.000Z" },
});

it("a turn's events leave as one message, in order, and another server reads them back", async () => {
  const sent: string[] = [];
  const outbox = new EventOutbox(
    "server-a",
    (message) => {
      sent.push(message);
      return Promise.resolve();
    },
    () => undefined,
  );
  for (let n = 1; n <= 40; n++) outbox.add(event(n));
  await outbox.drained();
  expect(sent).toHaveLength(1);
  const received = othersEvents(sent[0] ?? "", "server-b");
  expect(received).toEqual({ events: Array.from({ length: 40 }, (_, i) => event(i + 1)) });
  // PostgreSQL hands a server its own NOTIFY too: skipped before any validation.
  expect(othersEvents(sent[0] ?? "", "server-a")).toEqual({ own: true });
});

it("a batch is cut under NOTIFY's payload limit; an event larger than that goes alone", () => {
  const small = JSON.stringify(event(1));
  const large = "x".repeat(9_000);
  const batches = batchesOf([...Array.from({ length: 100 }, () => small), large, small]);
  expect(batches.flat()).toHaveLength(102);
  for (const batch of batches.filter((b) => !b.includes(large)))
    expect(batch.reduce((bytes, e) => bytes + e.length + 1, 0)).toBeLessThanOrEqual(7_500);
  expect(batches.find((b) => b.includes(large))).toEqual([large]);
});

it("a failed send is reported and the next batch still goes", async () => {
  const failures: unknown[] = [];
  const sent: string[] = [];
  let first = true;
  const outbox = new EventOutbox(
    "server-a",
    (message) => {
      if (first) {
        first = false;
        return Promise.reject(new Error("connection lost"));
      }
      sent.push(message);
      return Promise.resolve();
    },
    (err) => failures.push(err),
  );
  outbox.add(event(1));
  await outbox.drained();
  outbox.add(event(2));
  await outbox.drained();
  expect(failures).toHaveLength(1);
  expect(othersEvents(sent[0] ?? "", "server-b")).toEqual({ events: [event(2)] });
});

it("a message that is not a batch of events is unreadable, not delivered", () => {
  expect(othersEvents("not json", "s")).toEqual({ unreadable: 1 });
  expect(othersEvents(JSON.stringify({ origin: "t", events: [{ type: "nope" }] }), "s")).toHaveProperty(
    "unreadable",
  );
});
