// GET /metrics: the Prometheus figures (server/metrics/metrics.ts). Secure by default like every other
// route: an operator's token of the viewer role or higher, which Prometheus sends from its scrape
// config (`authorization: { credentials_file: … }`); make one that can do nothing else with
// `bootwright token create --role viewer --name prometheus`.
import type { App, RouteDeps } from "./app.js";

export function addMetricsRoute(app: App, deps: Pick<RouteDeps, "metrics">): void {
  app.get("/metrics", { config: { access: "viewer" } }, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.header("content-type", deps.metrics.registry.contentType).send(text);
  });
}
