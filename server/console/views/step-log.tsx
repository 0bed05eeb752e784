// A machine's step log with its timings: when each entry came, the time since the one before, and how
// long each command (from its lease to its result) and each agent step took.
import { useState } from "preact/hooks";
import type { StepLogEntry } from "../../../protocol/machine.js";
import { brief, formatDuration, formatTime } from "../format.js";

/** Entries shown before "show all": a long-lived machine's log runs to thousands of lines. */
const RECENT = 200;

function took(entry: StepLogEntry, leasedAt: ReadonlyMap<unknown, number>): number | null {
  if (entry.event === "command-succeeded" || entry.event === "command-failed") {
    const start = leasedAt.get(entry.data.command);
    return start === undefined ? null : Date.parse(entry.at) - start;
  }
  const ms = entry.data.ms;
  return entry.event === "agent-step-finished" && typeof ms === "number" ? ms : null;
}

function summary(entry: StepLogEntry): string {
  const { data } = entry;
  const parts = Object.entries(data)
    .filter(([key]) => key !== "command" && key !== "lease")
    .map(([key, value]) => `${key}=${brief(value)}`);
  return parts.join("  ");
}

export function StepLogView(props: { entries: readonly StepLogEntry[] }) {
  const [all, setAll] = useState(false);
  const leasedAt = new Map<unknown, number>();
  for (const entry of props.entries)
    if (entry.event === "command-leased") leasedAt.set(entry.data.command, Date.parse(entry.at));
  const start = all ? 0 : Math.max(0, props.entries.length - RECENT);
  const shown = props.entries.slice(start);
  return (
    <div class="steplog">
      {start > 0 && (
        <button
          type="button"
          onClick={() => {
            setAll(true);
          }}
        >
          Show all {props.entries.length} entries
        </button>
      )}
      <table class="grid" aria-label="Step log">
        <thead>
          <tr>
            <th>Time</th>
            <th>+</th>
            <th>Event</th>
            <th>Took</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((entry, i) => {
            const before = i > 0 ? shown[i - 1] : start > 0 ? props.entries[start - 1] : undefined;
            const gap = before ? Date.parse(entry.at) - Date.parse(before.at) : null;
            const duration = took(entry, leasedAt);
            return (
              <tr key={entry.seq} class={`ev-${entry.event}`}>
                <td>{formatTime(entry.at)}</td>
                <td class="num">{gap === null ? "" : formatDuration(gap)}</td>
                <td>{entry.event}</td>
                <td class="num">{duration === null ? "" : formatDuration(duration)}</td>
                <td class="details">{summary(entry)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
