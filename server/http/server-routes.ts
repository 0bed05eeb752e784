// GET /v1/servers: the bootwright servers on this store, with their versions, last heartbeats and the
// periodic work each holds (server/cluster). One process on SQLite lists itself. GET /v1/relay/auth: a
// rack relay's check that a request's credential is a machine's (or an operator's who may act for one)
// before it answers from its cache what the server would only give a machine (nginx auth_request).
import type { ServerList } from "../../protocol/index.js";
import type { App, RouteDeps } from "./app.js";

export function addServerRoutes(app: App, deps: RouteDeps): void {
  app.get("/v1/servers", { config: { access: "viewer" } }, (): Promise<ServerList> => deps.servers());
  app.get("/v1/relay/auth", { config: { access: "machine" } }, (_request, reply) => reply.code(204).send());
}
