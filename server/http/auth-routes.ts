// Who the caller is (any operator's token), operators' API tokens (admin only: made, listed, revoked; a
// token's secret is in the answer that makes it and nowhere else) and the audit log (read only: nothing
// in the API edits or deletes an entry).
import * as z from "zod";
import {
  CreateToken,
  type AuditLog,
  type CreatedToken,
  type TokenList,
  type Whoami,
} from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import type { App, RouteDeps } from "./app.js";

export function addAuthRoutes(app: App, deps: RouteDeps): void {
  // Who the caller is: the console asks once after login, to hide what the token's role may not do.
  app.get("/v1/whoami", { config: { access: "viewer" } }, (request): Whoami => {
    const token = request.operator;
    if (!token) throw new ApiError("unauthenticated", "this route needs an operator's API token");
    return { id: token.id, name: token.name, role: token.role };
  });

  app.post(
    "/v1/tokens",
    { config: { access: "admin", what: "token request" }, schema: { body: CreateToken } },
    async (request, reply): Promise<CreatedToken> => {
      const made = await deps.auth.create(
        request.body.name,
        request.body.role,
        request.operator?.id ?? null,
        new Date(),
      );
      request.log.info({ token: made.info.id, name: made.info.name, role: made.info.role }, "token created");
      void reply.code(201);
      return made;
    },
  );

  app.get("/v1/tokens", { config: { access: "admin" } }, async (): Promise<TokenList> => ({
    tokens: await deps.auth.list(),
  }));

  app.delete(
    "/v1/tokens/:id",
    { config: { access: "admin" }, schema: { params: z.object({ id: z.string() }) } },
    async (request) => {
      if (!(await deps.auth.revoke(request.params.id, new Date())))
        throw new ApiError("not_found", `no live token ${request.params.id}`);
      request.log.info({ token: request.params.id }, "token revoked");
      return { revoked: request.params.id };
    },
  );

  app.get(
    "/v1/audit",
    {
      config: { access: "operator" },
      schema: {
        querystring: z.object({
          machine: z.string().optional(),
          since: z.iso.datetime({ offset: true }).optional(),
          limit: z.coerce.number().int().min(1).max(10_000).default(500),
        }),
      },
    },
    async (request): Promise<AuditLog> => {
      const { machine, since, limit } = request.query;
      return {
        entries: await deps.auth.auditLog({
          limit,
          ...(machine === undefined ? {} : { target: machine }),
          ...(since === undefined ? {} : { since: new Date(since).toISOString() }),
        }),
      };
    },
  );
}
