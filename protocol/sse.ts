// Reading a server-sent event stream (the WHATWG "event stream interpretation", the parts GET /v1/events
// uses): text in as it arrives, whole messages out. Pure, for every client of the live events (the CLI,
// the page, the tests); `parseLiveEvent` checks a message against protocol/events.ts.
import { LIVE_EVENTS, LiveEvent } from "./events.js";

export interface SseMessage {
  /** The `id:` field, as the last one seen (the spec keeps it across messages). */
  id: string | undefined;
  event: string;
  data: string;
}

export class SseParser {
  private buffer = "";
  private lastId: string | undefined;
  private event = "";
  private data: string[] = [];

  /** Feeds a piece of the stream's text; returns the messages it completed. */
  push(text: string): SseMessage[] {
    this.buffer += text;
    const messages: SseMessage[] = [];
    for (let end = this.lineEnd(); end >= 0; end = this.lineEnd()) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(
        this.buffer[end] === "\r" && this.buffer[end + 1] === "\n" ? end + 2 : end + 1,
      );
      if (line === "") {
        if (this.data.length > 0)
          messages.push({ id: this.lastId, event: this.event || "message", data: this.data.join("\n") });
        this.event = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // a comment: the keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\u0000")) this.lastId = value;
    }
    return messages;
  }

  private lineEnd(): number {
    const match = /\r\n|\r|\n/.exec(this.buffer);
    // A lone \r at the very end may be the first half of \r\n: wait for the next piece.
    if (!match || (match[0] === "\r" && match.index === this.buffer.length - 1)) return -1;
    return match.index;
  }
}

/** A message of GET /v1/events as its typed event; undefined for a type this client does not know. */
export function parseLiveEvent(message: SseMessage): LiveEvent | undefined {
  if (!(message.event in LIVE_EVENTS)) return undefined;
  const data: unknown = JSON.parse(message.data);
  return LiveEvent.parse({ id: Number(message.id), type: message.event, data });
}
