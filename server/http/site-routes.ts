// The site network as operators see it: the managed dnsmasq and TFTP server (GET /v1/site) and the boot
// log (GET /v1/boot-log[?mac=]), what machines asked for on their way to the loader.
import * as z from "zod";
import type { BootLog, SiteStatus } from "../../protocol/index.js";
import { parseMacParam } from "./boot-routes.js";
import type { App, RouteDeps } from "./app.js";

const OFF: SiteStatus = {
  dhcp: "off",
  interface: null,
  address: null,
  uefiPxe: null,
  tftp: null,
  dnsmasq: null,
  configFile: null,
};

export function addSiteRoutes(app: App, deps: RouteDeps): void {
  app.get("/v1/site", { config: { access: "viewer" } }, (): SiteStatus => deps.site() ?? OFF);

  app.get(
    "/v1/boot-log",
    {
      config: { access: "viewer" },
      schema: {
        querystring: z.object({
          mac: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(10_000).default(500),
          after: z.coerce.number().int().min(0).optional(),
        }),
      },
    },
    async (request): Promise<BootLog> => {
      const { mac, limit, after } = request.query;
      const events = await deps.store.bootLog({
        ...(mac === undefined ? {} : { mac: parseMacParam(mac.toLowerCase()) }),
        limit,
        ...(after === undefined ? {} : { afterSeq: after }),
      });
      return { events };
    },
  );
}
