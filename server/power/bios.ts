// BIOS attributes out of band, the pure part: a plan's attributes checked against the BMC's
// AttributeRegistry before anything is staged, and what the Bios resource reads back compared with them.
import type { BiosDifference, BiosValue } from "../../protocol/index.js";
import type { RegistryAttribute } from "./redfish-schema.js";

export interface BiosIssue {
  name: string;
  message: string;
}

/** Why each attribute cannot be set, by the registry's entry for it (DSP8010 AttributeRegistry). */
export function registryIssues(
  attributes: Readonly<Record<string, BiosValue>>,
  registry: readonly RegistryAttribute[],
): BiosIssue[] {
  const byName = new Map(registry.map((entry) => [entry.AttributeName, entry]));
  const issues: BiosIssue[] = [];
  for (const [name, value] of Object.entries(attributes)) {
    const entry = byName.get(name);
    if (!entry) {
      issues.push({ name, message: `the BMC's attribute registry has no attribute ${name}` });
      continue;
    }
    if (entry.ReadOnly) {
      issues.push({ name, message: `${name} is read-only` });
      continue;
    }
    const problem = valueProblem(entry, value);
    if (problem) issues.push({ name, message: problem });
  }
  return issues;
}

function valueProblem(entry: RegistryAttribute, value: BiosValue): string | undefined {
  const name = entry.AttributeName;
  switch (entry.Type) {
    case "Enumeration": {
      const allowed = (entry.Value ?? []).map((v) => v.ValueName);
      return typeof value === "string" && allowed.includes(value)
        ? undefined
        : `${name} must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})`;
    }
    case "Integer":
      if (typeof value !== "number" || !Number.isInteger(value))
        return `${name} must be a whole number (got ${JSON.stringify(value)})`;
      if (
        (entry.LowerBound !== undefined && value < entry.LowerBound) ||
        (entry.UpperBound !== undefined && value > entry.UpperBound)
      )
        return `${name} must be between ${String(entry.LowerBound ?? "-∞")} and ${String(entry.UpperBound ?? "∞")} (got ${value})`;
      return undefined;
    case "Boolean":
      return typeof value === "boolean"
        ? undefined
        : `${name} must be true or false (got ${JSON.stringify(value)})`;
    case "String":
    case "Password":
      return typeof value === "string" ? undefined : `${name} must be text (got ${JSON.stringify(value)})`;
    default:
      // A type this driver does not know: the BMC decides.
      return undefined;
  }
}

/** The attributes that do not read back as wanted (null: the BMC reports no such attribute). */
export function biosDifferences(
  wanted: Readonly<Record<string, BiosValue>>,
  current: Readonly<Record<string, BiosValue | null>>,
): BiosDifference[] {
  return Object.entries(wanted)
    .filter(([name, value]) => current[name] !== value)
    .map(([name, value]) => ({ name, wanted: value, actual: current[name] ?? null }));
}
