// The policy API: read and replace the policy (validated first: a bad one is a 422 naming each line and
// is not stored), and one machine's resolved plan with the explanation of why.
import { z } from "zod";
import { PolicyUpload, type PolicyState, type StoredPolicy } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { parsePolicy } from "../policy/load.js";
import { resolveMachinePlan } from "../policy/machine-plan.js";
import type { App, RouteDeps } from "./app.js";

export function addPolicyRoutes(app: App, deps: RouteDeps): void {
  const { store } = deps;

  app.get(
    "/v1/policy",
    { config: { access: "viewer" } },
    async () => ({ policy: (await store.getPolicy()) ?? null }) satisfies PolicyState,
  );

  app.put(
    "/v1/policy",
    { schema: { body: PolicyUpload }, config: { access: "admin", what: "policy upload" } },
    async (request) => {
      const upload = request.body;
      const parsed = parsePolicy(upload.source, upload.format);
      if (!parsed.ok)
        throw new ApiError(
          "invalid_policy",
          `policy refused: ${parsed.issues.length} problem(s), first at ${parsed.issues[0]?.path ?? "?"} (line ${parsed.issues[0]?.line ?? "?"})`,
          parsed.issues,
        );
      const stored: StoredPolicy = await store.setPolicy(upload.source, upload.format, new Date());
      request.log.info({ version: stored.version, rules: parsed.policy.rules.length }, "policy set");
      return stored;
    },
  );

  app.get(
    "/v1/machines/:id/plan",
    { config: { access: "viewer" }, schema: { params: z.object({ id: z.string() }) } },
    async (request) => {
      const resolution = await resolveMachinePlan(store, request.params.id);
      if (!resolution) throw new ApiError("not_found", `no machine ${request.params.id}`);
      return resolution;
    },
  );
}
