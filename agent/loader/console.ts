// The loader's user interface: one readable line per step on the machine's console.
// The only place in agent/ that writes to the console (style.md §9, §16).
import { uptime } from "node:os";

export type Level = "step" | "ok" | "warn" | "fail";

const MARK: Record<Level, string> = { step: "..", ok: "ok", warn: "!!", fail: "XX" };

/**
 * Prints `bootwright[<uptime>s] <mark> <message> key=value …`. The time is the machine's uptime,
 * so lines line up with the kernel's own timestamps on the same console.
 */
export function say(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  const extra = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  console.log(`bootwright[${uptime().toFixed(1)}s] ${MARK[level]} ${message}${extra ? " " + extra : ""}`);
}
