// The policy API: read and replace the policy (validated first: a bad one is a 422 naming each line and
// is not stored), and one machine's resolved plan with the explanation of why.
import { PolicyUpload, type PolicyState, type StoredPolicy } from "../../protocol/index.js";
import type { Store } from "../db/store.js";
import { ApiError } from "../errors.js";
import { parsePolicy } from "../policy/load.js";
import { resolveMachinePlan } from "../policy/machine-plan.js";
import { readBody } from "./body.js";
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
    const upload = await readBody(ctx.req, deps.bodyLimitBytes, PolicyUpload, "policy upload");
    const parsed = parsePolicy(upload.source, upload.format);
    if (!parsed.ok) {
      throw new ApiError(
        "invalid_policy",
        `policy refused: ${parsed.issues.length} problem(s), first at ${parsed.issues[0]?.path ?? "?"} (line ${parsed.issues[0]?.line ?? "?"})`,
        parsed.issues,
      );
    }
    const stored: StoredPolicy = await deps.store.setPolicy(upload.source, upload.format, new Date());
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
