// The station's pass/fail decisions, pure (issue 22): the inventory check (expected product, memory,
// disk count) and the burn-in thresholds over the diagnostic steps' figures.
import type { BurnInThreshold, Inventory, MaintenanceReport, StationFile } from "../../protocol/index.js";
import { globToRegExp } from "../../protocol/policy/match.js";

const MiB = 2 ** 20;

export interface Verdict {
  ok: boolean;
  figures: Record<string, unknown>;
  /** Each failed check, readable: "memory-test.writeMBs 812 below min 1000000". */
  failures: string[];
}

export function checkInventory(station: StationFile, inventory: Inventory): Verdict {
  const expected = station.inventory;
  const product = inventory.system.product;
  const memoryMiB = Math.round(inventory.memoryBytes / MiB);
  const diskCount = inventory.disks.length;
  const failures: string[] = [];
  if (expected.product !== undefined && !globToRegExp(expected.product).test(product ?? ""))
    failures.push(`product ${product ?? "(none)"} is not ${expected.product}`);
  // MemTotal is a little under what is installed (the kernel keeps some): the station names the floor.
  if (expected.minMemoryMiB !== undefined && memoryMiB < expected.minMemoryMiB)
    failures.push(`memory ${memoryMiB} MiB below ${expected.minMemoryMiB} MiB`);
  if (expected.diskCount !== undefined && diskCount !== expected.diskCount)
    failures.push(`${diskCount} disks, expected ${expected.diskCount}`);
  return { ok: failures.length === 0, figures: { product, memoryMiB, diskCount }, failures };
}

/** The values at a dotted path; `*` spreads a list; a list at the end counts as its length. */
export function figureValues(data: unknown, path: readonly string[]): number[] {
  if (path.length === 0) {
    if (typeof data === "number") return [data];
    if (Array.isArray(data)) return [data.length];
    if (typeof data === "boolean") return [data ? 1 : 0];
    return [];
  }
  const [head, ...rest] = path;
  if (head === "*") return Array.isArray(data) ? data.flatMap((item) => figureValues(item, rest)) : [];
  if (data === null || typeof data !== "object" || head === undefined) return [];
  return figureValues((data as Record<string, unknown>)[head], rest);
}

/** Whether a threshold is for this unit (no serial glob: every unit). */
export function appliesTo(threshold: BurnInThreshold, serial: string): boolean {
  return threshold.serial === undefined || globToRegExp(threshold.serial).test(serial);
}

/**
 * The burn-in's verdict: every step must have run (a step that could not measure fails), and each
 * threshold that applies to this serial must hold for the worst of its values.
 */
export function evaluateBurnIn(station: StationFile, serial: string, report: MaintenanceReport): Verdict {
  const figures: Record<string, unknown> = {};
  const failures: string[] = [];
  for (const step of report.steps) {
    figures[step.name] = step.data;
    if (!step.ok) failures.push(`${step.name} failed: ${step.error ?? "no reason given"}`);
  }
  for (const threshold of station.burnIn.thresholds.filter((t) => appliesTo(t, serial))) {
    const name = `${threshold.step}.${threshold.figure}`;
    const step = report.steps.find((s) => s.name === threshold.step);
    const values = step ? figureValues(step.data, threshold.figure.split(".")) : [];
    if (values.length === 0) {
      if (threshold.required) failures.push(`${name} was not measured`);
      continue;
    }
    const { min, max } = threshold;
    if (min !== undefined && Math.min(...values) < min)
      failures.push(`${name} ${Math.min(...values)} below min ${min}`);
    if (max !== undefined && Math.max(...values) > max)
      failures.push(`${name} ${Math.max(...values)} above max ${max}`);
  }
  return { ok: failures.length === 0, figures, failures };
}
