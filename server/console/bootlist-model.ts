// The boot list's rows: each machine with its difference and the reason, filtered by words and facts
// (`product=X1`, `tag=rack12`, any dotted path of the machine: the selectors `--where` takes, so a
// filter is also what a bulk action applies to), and sorted by any column. Pure.
import type { DifferenceList } from "../../protocol/difference.js";
import type { MachineSummary } from "../../protocol/machine.js";
import { matchesWhere, parseWhere, type Where } from "../selector.js";

export interface BootRow {
  machine: MachineSummary;
  product: string;
  /** "" when nothing is expected, "none" when current is expected, else "current → expected". */
  difference: string;
  /** Why the machine is not where it is expected (or waits): blocked, next commands, enrollment, drift. */
  reason: string;
  /** Lower-cased words the free-text filter searches. */
  search: string;
}

export const COLUMNS = [
  "id",
  "product",
  "category",
  "expected",
  "difference",
  "reason",
  "bootPath",
  "lastSeen",
] as const;
export type Column = (typeof COLUMNS)[number];

export interface Sort {
  column: Column;
  descending: boolean;
}

export interface Filter {
  words: string[];
  facts: Where[];
}

function reasons(differences: DifferenceList | null): Map<string, string> {
  const why = new Map<string, string>();
  for (const drift of differences?.drift ?? []) why.set(drift.machineId, drift.message);
  for (const d of differences?.drivers ?? [])
    why.set(
      d.machineId,
      `no driver: ${d.devices.map((device) => `${device.kind} ${device.vendorId}:${device.deviceId}`).join(", ")}`,
    );
  for (const d of differences?.differences ?? [])
    why.set(
      d.machineId,
      d.blocked ??
        `next: ${d.commands.map((c) => `${c.kind} → ${c.onSuccess}`).join(", ") || "nothing queued"}`,
    );
  for (const e of differences?.enrollment ?? [])
    why.set(e.machineId, `${e.state}${e.reason ? `: ${e.reason}` : ""}`);
  return why;
}

export function buildRows(
  machines: readonly MachineSummary[],
  differences: DifferenceList | null,
): BootRow[] {
  const why = reasons(differences);
  return machines.map((machine) => {
    const product = machine.inventory?.system.product ?? "";
    const difference =
      machine.expected === null
        ? ""
        : machine.expected === machine.category
          ? "none"
          : `${machine.category} → ${machine.expected}`;
    const reason =
      why.get(machine.id) ?? (machine.retired ? `retired by ${machine.retired.by}` : (machine.note ?? ""));
    const search = [
      machine.id,
      machine.bootMac,
      machine.category,
      machine.expected ?? "",
      product,
      machine.inventory?.system.serial ?? "",
      machine.bootPath ?? "",
      ...machine.tags,
    ]
      .join(" ")
      .toLowerCase();
    return { machine, product, difference, reason, search };
  });
}

/** "imaging product=X1 tag=rack12": words match anywhere, `path=value` tokens are facts. */
export function parseFilter(text: string): Filter {
  const words: string[] = [];
  const facts: Where[] = [];
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    if (token.indexOf("=") > 0) facts.push(parseWhere(token));
    else words.push(token.toLowerCase());
  }
  return { words, facts };
}

export function filterRows(rows: readonly BootRow[], filter: Filter): readonly BootRow[] {
  if (filter.words.length === 0 && filter.facts.length === 0) return rows;
  return rows.filter(
    (row) =>
      filter.words.every((word) => row.search.includes(word)) &&
      filter.facts.every((where) => matchesWhere(row.machine, where)),
  );
}

function sortKey(row: BootRow, column: Column): string {
  switch (column) {
    case "id":
      return row.machine.id;
    case "product":
      return row.product;
    case "category":
      return row.machine.category;
    case "expected":
      return row.machine.expected ?? "";
    case "difference":
      return row.difference;
    case "reason":
      return row.reason;
    case "bootPath":
      return row.machine.bootPath ?? "";
    case "lastSeen":
      return row.machine.lastSeenAt;
  }
}

export function sortRows(rows: readonly BootRow[], sort: Sort): BootRow[] {
  const keyed = rows.map((row) => ({ row, key: sortKey(row, sort.column) }));
  const sign = sort.descending ? -1 : 1;
  keyed.sort((a, b) => sign * (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map(({ row }) => row);
}
