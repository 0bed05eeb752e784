// One machine's plan from the stored policy: the shell around the pure resolver (store in, result out).
import type { PlanResolution, StoredPolicy } from "../../protocol/index.js";
import type { Services as Store } from "../services.js";
import { ServerError } from "../errors.js";
import { explain, resolvePolicy, type CompiledPolicy } from "./resolve.js";
import { parseStoredPolicy } from "./stored-policy.js";

/** Undefined for an unknown machine; "no-policy" / "no-inventory" are answers like "matched". */
export async function resolveMachinePlan(
  store: Store,
  machineId: string,
): Promise<PlanResolution | undefined> {
  const machine = await store.getMachine(machineId);
  if (!machine) return undefined;
  if (!machine.inventory) return { kind: "no-inventory", machineId };
  const stored = await store.getPolicy();
  if (!stored)
    return {
      kind: "no-policy",
      machineId,
      policyVersion: null,
      reason: "no policy is set (bootwright policy set <file>)",
      explanation: { rules: [] },
    };
  const compiled = compiledStored(stored);
  const { policy } = compiled;
  const resolution = resolvePolicy(compiled, machine.inventory, { tags: machine.tags });
  if (resolution.kind === "no-policy")
    return {
      kind: "no-policy",
      machineId,
      policyVersion: stored.version,
      reason:
        policy.rules.length === 0
          ? "the policy has no rules"
          : `none of the policy's ${policy.rules.length} rules matches this machine`,
      explanation: resolution.explanation,
    };
  return {
    ...resolution,
    machineId,
    policyVersion: stored.version,
    explanation: explain(compiled, machine.inventory, { tags: machine.tags }),
  };
}

/** The stored text was validated when it was set; failing now means the schema moved under it. */
function compiledStored(stored: StoredPolicy): CompiledPolicy {
  const parsed = parseStoredPolicy(stored);
  if (!parsed.ok)
    throw new ServerError(
      `stored policy version ${stored.version} no longer parses: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    );
  return parsed.compiled;
}
