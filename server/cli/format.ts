// Plain-text tables for the CLI (pure).
import type { Machine } from "../../protocol/index.js";

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit] ?? "B"}`;
}

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Why a machine waits, or the UUID it shares (its id is then its MAC); empty when neither. */
export function enrollmentNote(machine: Machine): string {
  const { state, reason, sharedUuid } = machine.enrollment;
  const notes = [
    state === "awaiting-approval" || state === "held"
      ? (reason ?? state)
      : state === "approved"
        ? "approved"
        : "",
    sharedUuid === null ? "" : `UUID ${sharedUuid} shared with another machine`,
  ];
  return notes.filter(Boolean).join("; ");
}

export function formatBootList(machines: readonly Machine[]): string {
  if (machines.length === 0) return "no machines yet: power one on with network boot pointed at this server";
  const rows = machines.map((m) => {
    const inv = m.inventory;
    return [
      m.id,
      m.bootMac,
      m.retired ? `${m.category} (retired)` : m.category,
      m.tags.join(",") || "-",
      inv ? [inv.system.manufacturer, inv.system.product].filter(Boolean).join(" ") || "-" : "-",
      inv?.system.serial ?? "-",
      inv ? String(inv.cpu.logicalCount) : "-",
      inv ? formatBytes(inv.memoryBytes) : "-",
      inv ? inv.disks.map((d) => `${d.name} ${formatBytes(d.sizeBytes)}`).join(", ") || "none" : "-",
      m.bootPath ?? "-",
      m.lastSeenAt,
      enrollmentNote(m),
    ];
  });
  return formatTable(
    [
      "ID",
      "BOOT MAC",
      "CATEGORY",
      "TAGS",
      "SYSTEM",
      "SERIAL",
      "CPUS",
      "MEMORY",
      "DISKS",
      "BOOT PATH",
      "LAST SEEN",
      "ENROLLMENT",
    ],
    rows,
  );
}
