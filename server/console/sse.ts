// A server-sent events parser (the WHATWG "event stream interpretation"): fed text as it arrives, it
// calls back once per complete event with its id, type and data. Pure: no I/O, tested on byte splits.

export interface SseMessage {
  /** The last event id seen so far (what a reconnect sends as Last-Event-ID); null before any. */
  id: string | null;
  /** "message" when the event names none. */
  event: string;
  data: string;
}

export class SseParser {
  private pending = "";
  private data: string[] = [];
  private event = "";
  private lastId: string | null = null;
  /** The reconnection delay the server asked for (`retry:`), if any. */
  retryMs: number | null = null;

  constructor(private readonly onMessage: (message: SseMessage) => void) {}

  get lastEventId(): string | null {
    return this.lastId;
  }

  push(chunk: string): void {
    this.pending += chunk;
    // A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
    const usable = this.pending.endsWith("\r") ? this.pending.length - 1 : this.pending.length;
    const lines = this.pending.slice(0, usable).split(/\r\n|\r|\n/);
    this.pending = (lines.pop() ?? "") + this.pending.slice(usable);
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // a comment (a keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
  }

  private dispatch(): void {
    const data = this.data;
    const event = this.event || "message";
    this.data = [];
    this.event = "";
    if (data.length === 0) return;
    this.onMessage({ id: this.lastId, event, data: data.join("\n") });
  }
}
