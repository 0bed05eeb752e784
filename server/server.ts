// Starts the HTTP server on the configured store; returns its URLs and a close() that stops it cleanly.
import { DriverLibrary } from "./drivers/driver-library.js";
import { chmodSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import type { ServerConfig } from "./config.js";
import { describeStore, openStore } from "./db/open-store.js";
import { Services } from "./services.js";
import { AgentBuilder } from "./agent-builder.js";
import { ServerError } from "./errors.js";
import { buildApp, type RouteInfo } from "./http/app.js";
import { LOCAL_CONNECTIONS } from "./http/access.js";
import { BlobStore } from "./images/blob-store.js";
import { machineBootScript } from "./ipxe/machine-script.js";
import { loadTemplates } from "./ipxe/render.js";
import { BootJournal } from "./site/boot-journal.js";
import { SiteBoot } from "./site/site-boot.js";
import { loaderUki } from "./site/uki.js";
import { AuthService, firstAdminNotice } from "./auth/service.js";
import { SecretBox } from "./auth/secret-box.js";
import { MaintenanceService } from "./maintenance/service.js";
import { servedRescueMedia } from "./media/served-media.js";
import { RESCUE_MEDIA_PATH } from "../protocol/index.js";
import { createLogger } from "./logger.js";
import { autoTls, siteTls, type ServerTls } from "./tls/certificates.js";
import { listen, type Listener } from "./tls/listener.js";
import { installStartupPolicy, readStartupPolicy } from "./policy/install.js";
import { FactoryService } from "./factory/service.js";
import { loadStationFile } from "./factory/station.js";
import { EventBus } from "./events/bus.js";
import { observedStore } from "./events/observed-store.js";
import { ProgressReporter } from "./events/progress.js";
import { ServerMetrics } from "./metrics/metrics.js";
import { Cluster } from "./cluster/cluster.js";
import { startPeriodicWork } from "./cluster/periodic.js";
import { openCoordination } from "./db/coordination.js";
import { packageVersion } from "./http/openapi.js";

export interface RunningServer {
  /** Where we listen, e.g. http://127.0.0.1:41234. */
  url: string;
  /** What machines are told (advertiseUrl with the bound port; https:// under TLS). */
  advertiseUrl: string;
  /** Where firmware fetches boot scripts and files: advertiseUrl, or its http:// form under TLS. */
  bootUrl: string;
  /** The pinned CA's "sha256:<hex>" under TLS (on every loader's kernel command line), else null. */
  caFingerprint: string | null;
  port: number;
  /** The server's state through its services (server/services.ts): what the tests look at. */
  store: Services;
  /** The managed dnsmasq and TFTP server, when --dhcp is on. */
  site: SiteBoot | null;
  /** Every route the API answers, with its access and schemas (the fuzz test walks them all). */
  routes: readonly RouteInfo[];
  /** The live events' hub (GET /v1/events): how many listen, for tests and the benchmark. */
  events: EventBus;
  close(): Promise<void>;
}

export async function startServer(
  config: ServerConfig,
  options: { logger?: Logger } = {},
): Promise<RunningServer> {
  const log = options.logger ?? createLogger(config.logLevel);
  const policy = readStartupPolicy(config.policyFile); // a bad policy file stops start-up, naming its lines
  const station = config.stationFile === undefined ? undefined : loadStationFile(config.stationFile);
  const location = config.store ?? `sqlite:${join(config.dataDir, "bootwright.sqlite")}`;
  // BMC passwords and other drivers' secrets are sealed with this key before they reach the store.
  const secrets = SecretBox.openOrCreate(join(config.dataDir, "secret.key"));
  // Every committed change the clients see (categories, step lines, maintenance runs) becomes a live
  // event here, once, whichever service made it (events/observed-store.ts); the metrics count them too.
  // Other servers on the same store pass theirs on (cluster/): the metrics count this server's own only.
  const events = new EventBus();
  const cluster = new Cluster(openCoordination(location), config.clusterLeaseMs, log);
  // Nothing is published before the metrics exist: the first transaction through the services is below.
  const publish = cluster.relay(events, (event) => {
    metrics.observe(event);
  });
  const store = new Services(observedStore(await openStore(location), publish), { secrets });
  const metrics = new ServerMetrics(store);
  const progress = new ProgressReporter(publish);
  log.info({ store: describeStore(location) }, "store open");
  await installStartupPolicy(store, policy, log);
  // The factory line's station (bootwright factory --station): its images may be uploaded after start-up.
  if (station)
    await new FactoryService(store, { advertiseUrl: config.advertiseUrl }, log).setStation(
      { format: station.format, source: station.source },
      new Date(),
      { requireImages: false },
    );
  const auth = new AuthService(store.store, log);
  const adminTokenFile = join(config.dataDir, "admin-token");
  const madeAdmin = await auth.ensureAdmin(adminTokenFile, config.adminToken, new Date());
  if (madeAdmin) {
    // Shown once, on the terminal that started the first run (not in the JSON log: logs keep no secret).
    process.stderr.write(`bootwright: ${firstAdminNotice(madeAdmin, adminTokenFile)}`);
    log.info({ file: adminTokenFile }, "first admin token made");
  }
  const templates = loadTemplates();

  let tls: ServerTls | null;
  let listener: Listener;
  try {
    tls = await serverTls(config);
    // Listen first: the advertised URL may need the bound port (--port 0), and the routes need that URL.
    listener = await listen(config.host, config.port, tls).catch((err: unknown) => {
      throw new ServerError(
        `cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    });
  } catch (err) {
    await cluster.close();
    await store.close();
    throw err;
  }
  const server = listener.plain;
  const port = listener.port;
  const advertised = config.advertiseUrl.replace("{port}", String(port));
  // Under TLS the API is https:// on the same port; firmware still fetches its files over http://.
  const advertiseUrl = tls ? advertised.replace(/^http:/, "https:") : advertised;
  const bootUrl = advertised.replace(/^https:/, "http:");
  // Every loader, however it boots (iPXE, GRUB, UKI), learns the CA to pin from its command line.
  const kernelArgs = tls ? `${config.kernelArgs} bootwright.ca=${tls.caFingerprint}` : config.kernelArgs;
  if (tls) log.info({ caFingerprint: tls.caFingerprint }, "TLS on: machines pin this CA");
  const journal = new BootJournal(store, log);
  // The loader as a UKI names this server on its command line; built once, on first use.
  let uki: Promise<string> | undefined;
  const buildLoaderUki = (): Promise<string> => {
    uki ??= loaderUki({
      kernel: config.kernelPath,
      initramfs: config.initramfsPath,
      cmdline: `bootwright.server=${advertiseUrl} bootwright.path=uefi-http ${kernelArgs}`,
      dir: join(config.dataDir, "boot"),
    }).catch((err: unknown) => {
      uki = undefined; // the next request tries again
      throw new ServerError(
        `cannot build the loader UKI: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    });
    return uki;
  };
  // The rescue ISO a BMC's virtual CD boots (Redfish `--boot virtual-media`); built on first use.
  const rescueMedia = servedRescueMedia({
    dataDir: config.dataDir,
    serverUrl: advertiseUrl,
    caFingerprint: tls?.caFingerprint ?? null,
    kernel: config.kernelPath,
    initramfs: config.initramfsPath,
    bootFilesDir: config.bootFilesDir,
    kernelArgs: config.kernelArgs,
  });
  let site: SiteBoot | null = null;
  const maintenance = new MaintenanceService(
    store,
    {
      timeoutMs: config.maintenanceTimeoutMs,
      reportEveryMs: config.maintenanceReportMs,
      callHomeMs: config.callHomeTimeoutMs,
      healthReportMs: config.healthReportMs,
      advertiseUrl,
      // The BMC fetches the ISO as firmware fetches its files: over plain HTTP.
      virtualMedia: { url: `${bootUrl}${RESCUE_MEDIA_PATH}`, prepare: rescueMedia },
    },
    log,
  );
  const drivers = new DriverLibrary({
    modulesDir: config.modulesPath,
    firmwareDir: config.firmwarePath,
    bundlesDir: join(config.dataDir, "drivers"),
  });
  drivers.warm();
  const { app, routes } = buildApp(server, {
    store,
    advertiseUrl,
    bootUrl,
    tlsRequired: tls !== null,
    kernelArgs,
    bodyLimitBytes: config.bodyLimitBytes,
    rateLimit: { burst: config.rateLimitBurst, perSecond: config.rateLimitPerSecond },
    assets: { vmlinuz: config.kernelPath, "initramfs.img": config.initramfsPath },
    templates,
    idlePollMs: config.pollIntervalMs,
    leases: {
      defaultMs: config.leaseMs,
      writeImageMs: config.imageLeaseMs,
      callHomeMs: config.callHomeTimeoutMs,
    },
    agents: new AgentBuilder(join(config.dataDir, "agents")),
    blobs: new BlobStore(join(config.dataDir, "images")),
    uploadsDir: join(config.dataDir, "images", "uploads"),
    recipesDir: config.recipesDir ?? join(config.dataDir, "recipes"),
    fanout: { batchWindowMs: config.batchWindowMs },
    maintenance,
    bootAreasDir: join(config.dataDir, "boot-areas"),
    drivers,
    events,
    progress,
    metrics,
    journal,
    auth,
    loaderUki: buildLoaderUki,
    rescueMedia,
    site: () => site?.status() ?? null,
    servers: () => cluster.list(),
    relaySeen: (relay) => {
      cluster.relaySeen(relay);
    },
    log,
  });
  await app.ready();
  listener.secure?.on("request", (req: IncomingMessage, res: ServerResponse) => {
    app.routing(req, res);
  });

  // Local tools (and tests in another network namespace) may reach the same routes on a Unix socket.
  const local = config.socket === undefined ? undefined : await listenOnSocket(config.socket, app);

  // Site networking after we listen: dnsmasq may hand out our URL from its first answer on.
  if (config.dhcp !== "off") {
    try {
      await buildLoaderUki(); // UEFI HTTP clients are sent to it: fail now, not at the first machine
      site = await SiteBoot.start(
        {
          dhcp: config.dhcp,
          interface: config.interface ?? "",
          range: config.dhcpRange,
          uefiPxe: config.uefiPxe,
          bootFilesDir: config.bootFilesDir,
          dataDir: config.dataDir,
        },
        {
          journal,
          log,
          advertiseUrl: bootUrl, // dnsmasq hands out boot.ipxe's URL: firmware fetches it, over HTTP
          kernel: config.kernelPath,
          initramfs: config.initramfsPath,
          fallbackGrub: templates["fallback-grub"],
          grubConfigFor: async (mac, client) => {
            journal.learn(client.address, mac);
            const decided = await machineBootScript(
              { store, templates, advertiseUrl, bootUrl, kernelArgs },
              { mac, uuid: null, path: "secure-boot", language: "grub", at: new Date() },
            );
            journal.note({
              source: "tftp",
              event: "boot-script",
              mac,
              address: client.address,
              detail: `grub.cfg → ${decided.answer} (secure-boot, machine ${decided.machine.id})`,
            });
            return decided.script;
          },
        },
      );
    } catch (err) {
      await app.close();
      await listener.close();
      local?.close();
      await cluster.close();
      await store.close();
      throw err;
    }
  }

  // Where the other servers and a relay reach this one (not the advertised URL: that may be a relay's).
  const reachableHost = config.host === "0.0.0.0" || config.host === "::" ? hostname() : config.host;
  await cluster.start({
    id: `${hostname()}:${port}`,
    version: packageVersion(),
    url: `${tls ? "https" : "http"}://${reachableHost}:${port}`,
    startedAt: new Date().toISOString(),
  });
  const periodic = startPeriodicWork(
    { holds: (duty) => cluster.holds(duty), store, maintenance, log },
    config,
  );

  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const url = `${tls ? "https" : "http"}://${host}:${port}`;
  log.info({ url, advertiseUrl, dataDir: config.dataDir }, "server listening");

  return {
    url,
    advertiseUrl,
    bootUrl,
    caFingerprint: tls?.caFingerprint ?? null,
    port,
    store,
    routes,
    events,
    get site() {
      return site;
    },
    async close() {
      await periodic.stop(); // a tick in progress finishes before the store closes
      await cluster.close();
      progress.close();
      await site?.close();
      local?.close();
      await app.close();
      await listener.close();
      await journal.flushed();
      await store.close();
      log.info("server stopped");
    },
  };
}

/** A second listener for the same routes, on a Unix socket (replacing a stale socket file). */
async function listenOnSocket(
  path: string,
  app: { routing: (req: IncomingMessage, res: ServerResponse) => void },
): Promise<Server> {
  rmSync(path, { force: true });
  const local = createServer((req, res) => {
    app.routing(req, res);
  });
  local.on("connection", (socket) => {
    LOCAL_CONNECTIONS.add(socket);
  });
  await new Promise<void>((resolve, reject) => {
    local.once("error", reject);
    local.listen(path, () => {
      local.off("error", reject);
      resolve();
    });
  });
  chmodSync(path, 0o660);
  return local;
}

/** The TLS identity the configuration asks for: none, made here (auto), or the site's files. */
async function serverTls(config: ServerConfig): Promise<ServerTls | null> {
  if (config.tlsCert !== undefined && config.tlsKey !== undefined)
    return siteTls(config.tlsCert, config.tlsKey);
  if (config.tls === "off") return null;
  // The names machines reach us by: the advertised host, and this host's own name.
  const advertised = new URL(config.advertiseUrl.replace("{port}", "1")).hostname;
  return autoTls(join(config.dataDir, "tls"), [advertised, hostname()]);
}
