// The policy API: read and replace the policy (validated first: a bad one is a 422 naming each line and
// is not stored), and one machine's resolved plan with the explanation of why.
import { PolicyUpload, toSchemaIssues, type PolicyState, type StoredPolicy } from "../../protocol/index.js";
import type { Store } from "../db/store.js";
import { ApiError } from "../errors.js";
import { parsePolicy } from "../policy/load.js";
import { resolveMachinePlan } from "../policy/machine-plan.js";
import { readJsonBody } from "./body.js";
import { sendJson, type Router } from "./router.js";

export interface PolicyRouteDeps {
  store: Store;
  bodyLimitBytes: number;
}

export function addPolicyRoutes(router: Router, deps: PolicyRouteDeps): void {
  router.on("GET", "/v1/policy", async (ctx) => {
    const state: PolicyState = { policy: (await deps.store.getPolicy()) ?? null };
    sendJson(ctx.res, 200, state);
  });

  router.on("PUT", "/v1/policy", async (ctx) => {
    const body = PolicyUpload.safeParse(await readJsonBody(ctx.req, deps.bodyLimitBytes));
    if (!body.success)
      throw new ApiError(
        "schema_mismatch",
        "policy upload does not match the schema",
        toSchemaIssues(body.error.issues),
      );
    const parsed = parsePolicy(body.data.source, body.data.format);
    if (!parsed.ok) {
      throw new ApiError(
        "invalid_policy",
        `policy refused: ${parsed.issues.length} problem(s), first at ${parsed.issues[0]?.path ?? "?"} (line ${parsed.issues[0]?.line ?? "?"})`,
        parsed.issues,
      );
    }
    const stored: StoredPolicy = await deps.store.setPolicy(body.data.source, body.data.format, new Date());
    ctx.log.info({ version: stored.version, rules: parsed.policy.rules.length }, "policy set");
    sendJson(ctx.res, 200, stored);
  });

  router.on("GET", "/v1/machines/:id/plan", async (ctx) => {
    const id = ctx.params.id ?? "";
    const resolution = await resolveMachinePlan(deps.store, id);
    if (!resolution) throw new ApiError("not_found", `no machine ${id}`);
    sendJson(ctx.res, 200, resolution);
  });
}
