// The policy API: read and replace the policy (validated first: a bad one is a 422 naming each line and
// is not stored; a new version re-plans machines that have not started installing), try one without
// storing it (the dry run: who would re-plan or drift), and one machine's resolved plan with the why.
import * as z from "zod";
import { PolicyUpload, type Policy, type PolicyState } from "../../protocol/index.js";
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
      const policy = validPolicy(upload);
      const { stored, replanned, drift } = await store.changePolicy(upload.source, upload.format, new Date());
      request.log.info(
        {
          version: stored.version,
          rules: policy.rules.length,
          replanned: replanned.length,
          drift: drift.length,
        },
        "policy set",
      );
      return stored;
    },
  );

  // The dry run: what PUT /v1/policy would re-plan and which installed machines would drift. It writes
  // nothing (not the version, not the audit log): a viewer may ask, as it shows only what they can read.
  app.post(
    "/v1/policy/dry-run",
    { schema: { body: PolicyUpload }, config: { access: "viewer", readOnly: true } },
    async (request) => {
      const upload = request.body;
      validPolicy(upload);
      return store.dryRunPolicy(upload.source, upload.format);
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

/** The uploaded policy, or a 422 naming each problem's path and line. */
function validPolicy(upload: PolicyUpload): Policy {
  const parsed = parsePolicy(upload.source, upload.format);
  if (!parsed.ok)
    throw new ApiError(
      "invalid_policy",
      `policy refused: ${parsed.issues.length} problem(s), first at ${parsed.issues[0]?.path ?? "?"} (line ${parsed.issues[0]?.line ?? "?"})`,
      parsed.issues,
    );
  return parsed.policy;
}
