// The factory line (issue 22): the station, the travelers (JSON, OCP Test & Validation output, a
// printable page) and the line's figures. Operators set the station; viewers read the rest.
import * as z from "zod";
import {
  FactoryLine,
  StationUpload,
  TravelerList,
  type StationState,
  type StoredStation,
  type Traveler,
} from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { travelerHtml } from "../factory/html.js";
import { ocpArtifacts } from "../factory/ocp.js";
import type { App, RouteDeps } from "./app.js";

const SerialParams = z.object({ serial: z.string().min(1).max(100) });
const TravelerQuery = z.object({
  since: z.iso.datetime({ offset: true }).optional(),
  failed: z.enum(["true", "false"]).optional(),
});

export function addFactoryRoutes(app: App, deps: RouteDeps): void {
  const { factory } = deps;
  const known = async (serial: string): Promise<Traveler> => {
    const traveler = await factory.traveler(serial);
    if (!traveler) throw new ApiError("not_found", `no traveler for serial ${serial}`);
    return traveler;
  };

  app.put(
    "/v1/factory/station",
    { schema: { body: StationUpload }, config: { access: "operator", what: "factory station" } },
    async (request) => (await factory.setStation(request.body, new Date())) satisfies StoredStation,
  );

  app.get(
    "/v1/factory/station",
    { config: { access: "viewer" } },
    async () => ({ stored: (await factory.station()) ?? null }) satisfies StationState,
  );

  app.get("/v1/factory/line", { config: { access: "viewer" } }, async () =>
    FactoryLine.parse(await factory.line(new Date())),
  );

  app.get(
    "/v1/factory/travelers",
    { schema: { querystring: TravelerQuery }, config: { access: "viewer" } },
    async (request) => {
      const { since, failed } = request.query;
      const travelers = await factory.travelers({
        ...(since === undefined ? {} : { since: new Date(since).toISOString() }),
        failed: failed === "true",
      });
      return { travelers } satisfies TravelerList;
    },
  );

  app.get(
    "/v1/factory/travelers/:serial",
    { schema: { params: SerialParams }, config: { access: "viewer" } },
    async (request) => known(request.params.serial),
  );

  // OCP Test & Validation output: one JSON artifact per line (JSON Lines), as the spec streams them.
  app.get(
    "/v1/factory/travelers/:serial/ocp",
    { schema: { params: SerialParams }, config: { access: "viewer" } },
    async (request, reply) => {
      const traveler = await known(request.params.serial);
      const lines = ocpArtifacts(traveler, (await factory.station())?.station ?? null);
      return reply
        .type("application/x-ndjson")
        .send(lines.map((line) => JSON.stringify(line)).join("\n") + "\n");
    },
  );

  app.get(
    "/v1/factory/travelers/:serial/html",
    { schema: { params: SerialParams }, config: { access: "viewer" } },
    async (request, reply) =>
      reply.type("text/html; charset=utf-8").send(travelerHtml(await known(request.params.serial))),
  );
}
