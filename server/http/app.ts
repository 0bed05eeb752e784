// The HTTP API on fastify: zod schemas validate every JSON body (fastify-type-provider-zod), binary
// bodies (images, upload chunks, boot areas) stay streams for their routes to read, and every failure
// becomes the wire's `{ code, message, details? }` (error-handler.ts). Routes live in one file per
// resource; each parses, calls a service, answers.
import type { DriverLibrary } from "../drivers/driver-library.js";
import { addDriverRoutes } from "./driver-routes.js";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyInstance, type RawServerDefault } from "fastify";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { Logger } from "pino";
import { FactoryService } from "../factory/service.js";
import { addFactoryRoutes } from "./factory-routes.js";
import type { AgentBuilder } from "../agent-builder.js";
import type { BlobStore } from "../images/blob-store.js";
import { DEFAULT_FANOUT, ImageFanout, type FanoutOptions } from "../images/fanout.js";
import { UploadService } from "../images/uploads.js";
import { installSource } from "../install-source.js";
import { ApiError } from "../errors.js";
import { BootAreaFiles } from "../maintenance/boot-areas.js";
import type { MaintenanceService } from "../maintenance/service.js";
import type { LeaseDurations } from "../queue/reconciler.js";
import type { Templates } from "../ipxe/render.js";
import type { BootJournal } from "../site/boot-journal.js";
import type { ServerList, SiteStatus } from "../../protocol/index.js";
import type { Services } from "../services.js";
import { addBootAreaRoutes } from "./boot-area-routes.js";
import { addBootRoutes } from "./boot-routes.js";
import { addConsoleRoutes } from "./console-routes.js";
import { handleClientError, handleError, methodNotAllowedOrNotFound } from "./error-handler.js";
import { addHealthPowerRoutes } from "./health-power-routes.js";
import { addImageRoutes } from "./image-routes.js";
import { addEnrollmentRoutes } from "./enrollment-routes.js";
import { addReleaseRoutes } from "./release-routes.js";
import { addMachineRoutes } from "./machine-routes.js";
import { addLifecycleRoutes } from "./lifecycle-routes.js";
import { addMaintenanceRoutes } from "./maintenance-routes.js";
import { addPolicyRoutes } from "./policy-routes.js";
import { addQueueRoutes } from "./queue-routes.js";
import { addSiteRoutes } from "./site-routes.js";
import { addServerRoutes } from "./server-routes.js";
import { addAccessControl, type Access } from "./access.js";
import { trackRelays } from "./relay-origin.js";
import type { RelayIdentity } from "../db/coordination.js";
import { addRateLimit, type RateLimit } from "./rate-limit.js";
import { addAuthRoutes } from "./auth-routes.js";
import type { AuthService } from "../auth/service.js";
import type { EventBus } from "../events/bus.js";
import type { ProgressReporter } from "../events/progress.js";
import type { ServerMetrics } from "../metrics/metrics.js";
import { addEventRoutes } from "./event-routes.js";
import { addMetricsRoute } from "./metrics-route.js";
import { addOpenApiRoute } from "./openapi.js";

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

declare module "fastify" {
  interface FastifyContextConfig {
    /** What the route's JSON body is, for the message of a schema mismatch ("inventory does not match…"). */
    what?: string;
  }
}

export interface AppDeps {
  store: Services;
  /** The URL machines reach us at (config.advertiseUrl with the bound port filled in). */
  advertiseUrl: string;
  /** Where firmware fetches boot scripts and files: advertiseUrl, or its http:// form under TLS. */
  bootUrl: string;
  /** Under TLS, plain HTTP answers only what firmware fetches (access.ts). */
  tlsRequired: boolean;
  kernelArgs: string;
  bodyLimitBytes: number;
  /** Enrollment and inventory requests per source address (rate-limit.ts). */
  rateLimit: RateLimit;
  assets: { vmlinuz: string; "initramfs.img": string };
  templates: Templates;
  /** The boot log's writer: every boot request, DHCP line and TFTP transfer, by MAC and address. */
  journal: BootJournal;
  /** The loader as a UKI for UEFI HTTP boot (built on first use, then kept). */
  loaderUki: () => Promise<string>;
  /** The path of this server's rescue ISO (server/media/served-media.ts), built on first use. */
  rescueMedia: () => Promise<string>;
  /** The managed dnsmasq and TFTP server, when --dhcp is on. */
  site: () => SiteStatus | null;
  /** The servers on this store, their heartbeats and periodic work (server/cluster). */
  servers: () => Promise<ServerList>;
  /** A relay passed a credentialed request on (relay-origin.ts): its heartbeat. */
  relaySeen: (relay: RelayIdentity) => void;
  /** Operators' API tokens and the audit log. */
  auth: AuthService;
  /** How long the loader waits between "what next?" polls while there is nothing to do. */
  idlePollMs: number;
  /** How long a leased command belongs to its agent, by kind. */
  leases: LeaseDurations;
  /** Builds and keeps the tailored agent bundles. */
  agents: AgentBuilder;
  log: Logger;
  /** The image store's files. */
  blobs: BlobStore;
  /** Where resumable uploads keep their bytes until complete. */
  uploadsDir: string;
  /** Recipes' files, one directory per recipe (served to install scripts). */
  recipesDir: string;
  fanout?: Partial<FanoutOptions>;
  /** Maintenance swaps: start, reboot, restore, health, the monitor. */
  maintenance: MaintenanceService;
  /** Where the boot areas recorded at install are kept. */
  bootAreasDir: string;
  /** Kernel modules and firmware sent on demand (server/drivers/). */
  drivers: DriverLibrary;
  /** The live events (GET /v1/events), their throttled progress figures, and the Prometheus figures. */
  events: EventBus;
  progress: ProgressReporter;
  metrics: ServerMetrics;
}

/** What the routes share: the deps, and the image fan-out and upload service built once from them. */
export interface RouteDeps extends Omit<AppDeps, "fanout"> {
  fanout: ImageFanout;
  /** The factory line: station, burn-in assignments, travelers (server/factory/). */
  factory: FactoryService;
  uploads: UploadService;
  bootAreas: BootAreaFiles;
}

/** A route as it was declared, schemas included: for whatever walks the whole API (the fuzz test). */
export interface RouteInfo {
  method: string;
  url: string;
  access: Access;
  /** The route's zod schemas, as given (undefined where it has none). */
  schema: { params?: unknown; querystring?: unknown; body?: unknown };
}

/**
 * Builds the app on an HTTP server that is already listening (the advertised URL needs its port, and
 * the routes need that URL); `app.ready()` attaches it. `routes` fills as the routes are declared.
 */
export function buildApp(server: Server, deps: AppDeps): { app: App; routes: readonly RouteInfo[] } {
  let requests = 0;
  const app = Fastify({
    serverFactory: (handler) => server.on("request", handler),
    loggerInstance: deps.log,
    // Our own line per request (onResponse below, at debug): fastify's two per request are noise.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => String(++requests),
    bodyLimit: deps.bodyLimitBytes,
    forceCloseConnections: true,
    // The router's refusals (bad percent-encoding, a segment over maxParamLength) and the HTTP parser's
    // go out as `{ code, message }` like every other refusal.
    frameworkErrors: handleError,
    clientErrorHandler: handleClientError,
  }).withTypeProvider<ZodTypeProvider>();
  const declared: RouteInfo[] = [];
  app.addHook("onRoute", (route) => {
    const { params, querystring, body } = route.schema ?? {};
    for (const method of [route.method].flat())
      declared.push({
        method,
        url: route.url,
        access: route.config?.access ?? "public",
        schema: { params, querystring, body },
      });
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON bodies only where a route has a body schema; every other body stays the request stream, for
  // the image store, the upload chunks and the boot area to read themselves (their own limits and checks).
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("*", (request, _payload, done) => {
    if (request.routeOptions.schema?.body)
      done(
        new ApiError(
          "unsupported_media_type",
          `expected content-type application/json, got ${request.headers["content-type"] ?? "none"}`,
        ),
      );
    else done(null);
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(methodNotAllowedOrNotFound(app));
  app.addHook("onResponse", (request, reply, done) => {
    deps.metrics.httpDuration.observe(
      {
        method: request.method,
        // The route as declared (bounded), never the raw URL: ids would make a series per machine.
        route: request.routeOptions.url ?? "(no route)",
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    request.log.debug(
      {
        method: request.method,
        path: request.url.split("?")[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "request",
    );
    // A boot request that failed goes into the boot log too: the machine's side of "why did it not boot".
    // Not a rate-limited one: a flood must not write a line per refused request (rate-limit.ts logs it).
    const path = request.url.split("?")[0] ?? "";
    if (reply.statusCode >= 400 && reply.statusCode !== 429 && /^\/(boot|assets)[/.]/.test(path))
      deps.journal.note({
        source: "http",
        event: "http-error",
        address: request.ip,
        detail: `${request.method} ${path} → ${reply.statusCode}`,
      });
    done();
  });

  // An image batch waits for the machines about to write that image: those with a write-image command
  // queued or leased whose install source (install-source.ts: a captured image, or the plan's) is it.
  const fanout = new ImageFanout(
    async (sha256) => {
      const holders: string[] = [];
      for (const machineId of await deps.store.machinesWithPending("write-image")) {
        const machine = await deps.store.getMachine(machineId);
        const source = machine ? await installSource(deps.store, machine, deps.advertiseUrl) : undefined;
        if (source?.kind === "image" && source.image.sha256 === sha256) holders.push(machineId);
      }
      return holders;
    },
    { ...DEFAULT_FANOUT, ...deps.fanout },
    (message, fields) => {
      deps.log.info(fields, message);
    },
    {
      read: (bytes) => {
        deps.metrics.storeBytesRead.inc(bytes);
      },
      sent: (machineId, bytes, offset, sizeBytes) => {
        deps.metrics.bytesStreamed.inc(bytes);
        if (machineId !== undefined) deps.progress.report(machineId, "image", offset, sizeBytes);
      },
      batchStarted: (members) => {
        deps.metrics.batchSize.observe(members);
      },
    },
  );
  // Before access control: a refused request costs nothing more.
  addRateLimit(app, deps.rateLimit);
  addAccessControl(app, { auth: deps.auth, store: deps.store, tlsRequired: deps.tlsRequired });
  trackRelays(app, deps.relaySeen);
  const routes: RouteDeps = {
    ...deps,
    fanout,
    uploads: new UploadService(deps.uploadsDir, deps.store.uploads, deps.store.images, deps.blobs),
    bootAreas: new BootAreaFiles(deps.bootAreasDir),
    factory: new FactoryService(deps.store, { advertiseUrl: deps.advertiseUrl }, deps.log),
  };
  addBootRoutes(app, routes);
  addMachineRoutes(app, routes);
  addEnrollmentRoutes(app, routes);
  addReleaseRoutes(app, routes);
  addLifecycleRoutes(app, routes);
  addQueueRoutes(app, routes);
  addImageRoutes(app, routes);
  addPolicyRoutes(app, routes);
  addMaintenanceRoutes(app, routes);
  addHealthPowerRoutes(app, routes);
  addBootAreaRoutes(app, routes);
  addSiteRoutes(app, routes);
  addServerRoutes(app, routes);
  addDriverRoutes(app, routes);
  addAuthRoutes(app, routes);
  addEventRoutes(app, routes);
  addFactoryRoutes(app, routes);
  addMetricsRoute(app, routes);
  addOpenApiRoute(app, declared);
  addConsoleRoutes(app);
  return { app, routes: declared };
}
