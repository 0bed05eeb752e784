// A machine's transfer progress as today's API shows it without the event stream: the agent's
// "agent-progress" entries in the step log (image-stream's "image progress": bytes, totalBytes, rateMBs),
// current while the command that sent them has not finished. Pure.
import type { StepLogEntry } from "../../protocol/machine.js";
import type { Progress } from "./live.js";

/** Step-log events that end a command: its progress is over. */
export const COMMAND_ENDS = new Set([
  "command-succeeded",
  "command-failed",
  "command-cancelled",
  "lease-expired",
]);

const numberIn = (data: Record<string, unknown>, key: string): number | null => {
  const value = data[key];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
};

function kindOf(plugin: unknown): Progress["kind"] {
  const name = typeof plugin === "string" ? plugin : "";
  if (name.includes("capture")) return "capture";
  if (name.includes("erase")) return "erase";
  return "image";
}

/** The latest progress of a command that is still running, or null. */
export function progressFromLog(machineId: string, entries: readonly StepLogEntry[]): Progress | null {
  let latest: { progress: Progress; command: unknown } | null = null;
  for (const entry of entries) {
    if (COMMAND_ENDS.has(entry.event) && latest && entry.data.command === latest.command) latest = null;
    if (entry.event !== "agent-progress") continue;
    const bytesDone = numberIn(entry.data, "bytes");
    if (bytesDone === null) continue;
    const rateMBs = numberIn(entry.data, "rateMBs");
    latest = {
      command: entry.data.command,
      progress: {
        machineId,
        kind: kindOf(entry.data.plugin),
        bytesDone,
        bytesTotal: numberIn(entry.data, "totalBytes"),
        bytesPerSecond: rateMBs === null ? null : rateMBs * 1e6,
        at: entry.at,
      },
    };
  }
  return latest?.progress ?? null;
}

/** Done as a fraction 0..1, or null when the total is unknown. */
export function fraction(progress: Progress): number | null {
  if (progress.bytesTotal === null || progress.bytesTotal <= 0) return null;
  return Math.min(1, progress.bytesDone / progress.bytesTotal);
}

/** Seconds left at the current rate, or null when the rate or the total is unknown. */
export function etaSeconds(progress: Progress): number | null {
  if (progress.bytesTotal === null || !progress.bytesPerSecond) return null;
  return Math.max(0, (progress.bytesTotal - progress.bytesDone) / progress.bytesPerSecond);
}
