// Opens the store a setting names: `sqlite:<file>` (the embedded default) or a PostgreSQL URL.
import { PgStore } from "./postgres/store.js";
import type { Store } from "./rows.js";
import { SqliteStore } from "./sqlite/store.js";

/** `sqlite:<file>` or `postgres://…` / `postgresql://…`; anything else is a clear error. */
export async function openStore(location: string): Promise<Store> {
  if (location.startsWith("sqlite:")) return SqliteStore.open(location.slice("sqlite:".length));
  if (/^postgres(ql)?:\/\//.test(location)) return PgStore.open(location);
  throw new Error(`store ${location}: not sqlite:<file> nor postgres://…`);
}

/** The location with any password left out (for logs and answers). */
export function describeStore(location: string): string {
  return location.replace(/(postgres(?:ql)?:\/\/[^:@/]*):[^@]*@/, "$1:***@");
}
