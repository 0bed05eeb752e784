// Server logs: JSON lines (pino) on stdout; messages are constant strings, data in fields.
import { destination as pinoDestination, pino, type Logger } from "pino";

/**
 * Without a destination: stdout written asynchronously (sonic-boom, sync: false), so a slow reader of
 * the log (a pipe to journald, a terminal) never stalls a request; pino flushes what is buffered when the
 * process exits.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { svc: "bootwright" } },
    destination ?? pinoDestination({ dest: 1, sync: false }),
  );
}
