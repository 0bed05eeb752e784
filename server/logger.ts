// Server logs: JSON lines (pino) on stdout; messages are constant strings, data in fields.
import { pino, type Logger } from "pino";

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { svc: "bootwright" } }, destination ?? process.stdout);
}
