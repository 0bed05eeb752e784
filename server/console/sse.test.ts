import { expect, it } from "vitest";
import { SseParser, type SseMessage } from "./sse.js";
import { toLiveEvent } from "./live.js";

const STREAM = [
  ": keep-alive",
  "retry: 2500",
  "id: 41",
  "event: category",
  'data: {"machineId":"m1","category":"imaging",',
  'data: "expected":"installed","at":"2026-01-01T00:00:00Z"}',
  "",
  "event: progress",
  "id: 42",
  'data: {"machineId":"m1","kind":"image","bytesDone":10,"bytesTotal":100,"bytesPerSecond":5,"at":"x"}',
  "",
  "data: no event name",
  "",
  "event: reset",
  "data:",
  "",
  "",
].join("\r\n");

function parseAll(chunks: string[]): { messages: SseMessage[]; parser: SseParser } {
  const messages: SseMessage[] = [];
  const parser = new SseParser((m) => messages.push(m));
  for (const chunk of chunks) parser.push(chunk);
  return { messages, parser };
}

it("parses ids, event names, multi-line data, comments and retry", () => {
  const { messages, parser } = parseAll([STREAM]);
  expect(messages).toEqual([
    {
      id: "41",
      event: "category",
      data: '{"machineId":"m1","category":"imaging",\n"expected":"installed","at":"2026-01-01T00:00:00Z"}',
    },
    { id: "42", event: "progress", data: expect.stringContaining('"bytesDone":10') as unknown },
    { id: "42", event: "message", data: "no event name" },
    { id: "42", event: "reset", data: "" },
  ]);
  expect(parser.retryMs).toBe(2500);
  expect(parser.lastEventId).toBe("42");
});

it("gives the same events however the bytes are split, a CRLF across two chunks included", () => {
  const whole = parseAll([STREAM]).messages;
  for (let size = 1; size <= 7; size++) {
    const chunks: string[] = [];
    for (let at = 0; at < STREAM.length; at += size) chunks.push(STREAM.slice(at, at + size));
    expect(parseAll(chunks).messages).toEqual(whole);
  }
});

it("an event without its blank line is not dispatched; one without data is dropped", () => {
  expect(parseAll(["event: step\ndata: {}"]).messages).toEqual([]);
  expect(parseAll(["event: step\n\n"]).messages).toEqual([]);
});

it("turns messages into the page's events, and ignores unknown types and malformed bodies", () => {
  const [category, progress, unnamed, reset] = parseAll([STREAM]).messages.map(toLiveEvent);
  expect(category).toEqual({
    type: "category",
    machineId: "m1",
    category: "imaging",
    expected: "installed",
    at: "2026-01-01T00:00:00Z",
  });
  expect(progress).toMatchObject({ type: "progress", bytesDone: 10, bytesTotal: 100 });
  expect(unnamed).toBeUndefined();
  expect(reset).toEqual({ type: "reset" });
  expect(toLiveEvent({ id: null, event: "category", data: "{not json" })).toBeUndefined();
  expect(toLiveEvent({ id: null, event: "category", data: '{"machineId":1}' })).toBeUndefined();
});
