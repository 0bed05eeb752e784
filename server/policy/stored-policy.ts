// The stored policy's text, parsed and compiled once per version and reused for every machine:
// enrollment, planning, explain, health reports and the image holders all read it per request, and YAML +
// zod + compiling a 200-rule policy costs milliseconds each time (the policy.* bench).
import type { Policy, PolicyIssue, StoredPolicy } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { deepFreeze } from "../frozen.js";
import { parsePolicy } from "./load.js";
import { compilePolicy, type CompiledPolicy } from "./resolve.js";

export type StoredPolicyParse =
  | { ok: true; version: number; policy: Policy; compiled: CompiledPolicy }
  | { ok: false; version: number; issues: PolicyIssue[] };

type Parsed = { ok: true; policy: Policy; compiled: CompiledPolicy } | { ok: false; issues: PolicyIssue[] };

/**
 * The last text parsed. Keyed by the text itself, not the version number (two stores in one process
 * each have a version 1), so it cannot go stale; its values are never changed after they are made.
 * One entry: a server has one current policy, and a new version replaces it.
 */
let last: { format: string; source: string; parsed: Parsed } | undefined;

/** The stored text parsed and compiled; the same (frozen) objects while the text stays the same. */
export function parseStoredPolicy(stored: StoredPolicy): StoredPolicyParse {
  if (last?.source !== stored.source || last.format !== stored.format) {
    const parsed = parsePolicy(stored.source, stored.format);
    last = {
      format: stored.format,
      source: stored.source,
      parsed: parsed.ok
        ? { ok: true, policy: deepFreeze(parsed.policy), compiled: compilePolicy(parsed.policy) }
        : { ok: false, issues: parsed.issues },
    };
  }
  return { ...last.parsed, version: stored.version };
}

/** The stored policy, parsed and compiled; undefined before one is set. */
export async function readStoredPolicy(rows: Rows): Promise<StoredPolicyParse | undefined> {
  const stored = await rows.policy.get();
  return stored ? parseStoredPolicy(stored) : undefined;
}
