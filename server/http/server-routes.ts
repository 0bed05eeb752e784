// GET /v1/servers: the bootwright servers on this store, with their versions, last heartbeats and the
// periodic work each holds (server/cluster). One process on SQLite lists itself.
import type { ServerList } from "../../protocol/index.js";
import type { App, RouteDeps } from "./app.js";

export function addServerRoutes(app: App, deps: RouteDeps): void {
  app.get("/v1/servers", { config: { access: "viewer" } }, (): Promise<ServerList> => deps.servers());
}
