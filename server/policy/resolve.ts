// The server's door to policy resolution: the pure resolver (protocol/policy/resolve.ts, shared with the
// loader's offline run) with node:crypto's sha256 handed in.
import { createHash } from "node:crypto";
import type { Explanation, Inventory, PlanSpec, Policy } from "../../protocol/index.js";
import type { OperatorFacts } from "../../protocol/policy/facts.js";
import {
  compilePolicyWith,
  explainCompiled,
  planHashWith,
  resolveCompiled,
  type CompiledPolicy,
  type Resolution,
} from "../../protocol/policy/resolve.js";

export type { CompiledPolicy, Resolution };

export const sha256Hex = (text: string): string => createHash("sha256").update(text).digest("hex");

export function planHash(plan: PlanSpec): string {
  return planHashWith(plan, sha256Hex);
}

export function compilePolicy(policy: Policy): CompiledPolicy {
  return compilePolicyWith(policy, sha256Hex);
}

function compiled(policy: Policy | CompiledPolicy): CompiledPolicy {
  return "compiled" in policy ? policy : compilePolicy(policy);
}

/** First match wins; pass a CompiledPolicy when resolving many machines against one policy. */
export function resolvePolicy(
  policy: Policy | CompiledPolicy,
  inventory: Inventory,
  operator?: OperatorFacts,
): Resolution {
  return resolveCompiled(compiled(policy), inventory, operator);
}

/** Each rule in order up to the one that matches: the first condition that failed, with the machine's value. */
export function explain(
  policy: Policy | CompiledPolicy,
  inventory: Inventory,
  operator?: OperatorFacts,
): Explanation {
  return explainCompiled(compiled(policy), inventory, operator);
}
