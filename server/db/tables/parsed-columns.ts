// Parsed JSON columns kept by row: a machine's inventory (kilobytes of SMBIOS, disks and NICs) is read
// and zod-parsed on every queue request of that machine, though it changes only when an inventory is
// posted. The stored text is the key's check, so a changed column is parsed again and nothing goes stale.
import { deepFreeze } from "../../frozen.js";

/** Machines installing at once on one server, with room to spare; beyond it the oldest entry goes. */
const DEFAULT_LIMIT = 1024;

export class ParsedColumns<T> {
  private readonly entries = new Map<string, { text: string; value: T }>();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  /** The parsed value of `text` for the row `key`: kept (and frozen: callers share it) until the text changes. */
  get(key: string, text: string, parse: (text: string) => T): T {
    const kept = this.entries.get(key);
    if (kept?.text === text) return kept.value;
    const value = deepFreeze(parse(text));
    this.entries.delete(key);
    if (this.entries.size >= this.limit) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { text, value });
    return value;
  }
}
