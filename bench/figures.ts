// The shape of bench/results.json (../shared/design/benchmarks.md) and how figures are printed.

export interface Figure {
  id: string;
  value: number;
  unit: string;
  ours?: number;
  baseline?: number;
  baseline_is?: string;
  note: string;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function formatFigure(figure: Figure): string {
  const around =
    figure.baseline !== undefined
      ? `  (ours ${figure.ours ?? "?"} vs ${figure.baseline}: ${figure.baseline_is ?? ""})`
      : "";
  return `${figure.id.padEnd(28)} ${String(figure.value).padStart(9)} ${figure.unit.padEnd(6)}${around}${figure.note ? `  ${figure.note}` : ""}`;
}

/** The p-th percentile of `values` (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
