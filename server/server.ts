// Starts the HTTP server on the configured store; returns its URLs and a close() that stops it cleanly.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Logger } from "pino";
import type { ServerConfig } from "./config.js";
import { describeStore, openStore } from "./db/open-store.js";
import { Services } from "./services.js";
import { AgentBuilder } from "./agent-builder.js";
import { ServerError } from "./errors.js";
import { buildApp } from "./http/app.js";
import { BlobStore } from "./images/blob-store.js";
import { loadTemplate } from "./ipxe/render.js";
import { MaintenanceService } from "./maintenance/service.js";
import { createLogger } from "./logger.js";
import { installStartupPolicy, readStartupPolicy } from "./policy/install.js";

export interface RunningServer {
  /** Where we listen, e.g. http://127.0.0.1:41234. */
  url: string;
  /** What machines are told (advertiseUrl with the bound port). */
  advertiseUrl: string;
  port: number;
  /** The server's state through its services (server/services.ts): what the tests look at. */
  store: Services;
  close(): Promise<void>;
}

export async function startServer(
  config: ServerConfig,
  options: { logger?: Logger } = {},
): Promise<RunningServer> {
  const log = options.logger ?? createLogger(config.logLevel);
  const policy = readStartupPolicy(config.policyFile); // a bad policy file stops start-up, naming its lines
  const location = config.store ?? `sqlite:${join(config.dataDir, "bootwright.sqlite")}`;
  const store = new Services(await openStore(location));
  log.info({ store: describeStore(location) }, "store open");
  await installStartupPolicy(store, policy, log);
  const templates = {
    boot: loadTemplate("boot"),
    loader: loadTemplate("loader"),
    local: loadTemplate("local"),
  };

  // Listen first: the advertised URL may need the bound port (--port 0), and the routes need that URL.
  const server: Server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close();
    throw new ServerError(
      `cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  const port = (server.address() as AddressInfo).port;
  const advertiseUrl = config.advertiseUrl.replace("{port}", String(port));
  const maintenance = new MaintenanceService(
    store,
    {
      timeoutMs: config.maintenanceTimeoutMs,
      reportEveryMs: config.maintenanceReportMs,
      callHomeMs: config.callHomeTimeoutMs,
      healthReportMs: config.healthReportMs,
      advertiseUrl,
    },
    log,
  );
  const app = buildApp(server, {
    store,
    advertiseUrl,
    kernelArgs: config.kernelArgs,
    bodyLimitBytes: config.bodyLimitBytes,
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
    log,
  });
  await app.ready();

  // Leases are otherwise checked when a machine asks for work; one that rebooted into its installed OS
  // and never calls home would wait forever. The sweep fails it with the reason instead.
  const sweep = setInterval(() => {
    store.expireLeasesDue(new Date()).then(
      (ids) => {
        if (ids.length > 0) log.info({ machines: ids }, "expired leases handled");
      },
      (err: unknown) => {
        log.error({ err }, "lease sweep failed");
      },
    );
  }, config.leaseSweepMs);
  sweep.unref();

  // The maintenance monitor (seed 001's daemon): overdue runs fail with the reason and are alerted, due
  // schedules fire. One tick at a time: a slow power driver must not overlap the next tick.
  let tick: Promise<void> | undefined;
  const monitor = setInterval(() => {
    tick ??= maintenance
      .tick()
      .catch((err: unknown) => {
        log.error({ err }, "maintenance monitor failed");
      })
      .finally(() => {
        tick = undefined;
      });
  }, config.maintenanceTickMs);
  monitor.unref();

  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, advertiseUrl, dataDir: config.dataDir }, "server listening");

  return {
    url,
    advertiseUrl,
    port,
    store,
    async close() {
      clearInterval(sweep);
      clearInterval(monitor);
      await tick; // a tick in progress finishes before the store closes
      await app.close();
      await store.close();
      log.info("server stopped");
    },
  };
}
