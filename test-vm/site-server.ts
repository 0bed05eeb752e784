// `bootwright server` as an operator runs it on a site network, but inside the test's namespace: its own
// process (`ip netns exec`), --dhcp proxy|full on the segment's bridge, TFTP on port 69; or --dhcp off on
// an uplink behind a rack relay. The test cannot reach the namespace's addresses, so it talks to the same
// API on the Unix socket the server also serves.
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { Machine, SiteStatus, BootLog } from "../protocol/index.js";
import { OPERATOR, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { REPO_ROOT } from "./paths.js";
import { stopChild, type SiteNetwork } from "./site-network.js";

export interface SiteServerOptions {
  dataDir: string;
  /** off: machines reach the server some other way (through a rack relay on the segment). */
  dhcp: "off" | "proxy" | "full";
  /** Where it runs and listens (an uplink's namespace and address); default the segment's bridge. */
  namespace?: string;
  address?: string;
  range?: string;
  uefiPxe?: "ipxe" | "snponly" | "shim";
  port?: number;
  /** More kernel arguments for the loader (e.g. bootwright.lldp-wait=0 on a network with no switch). */
  kernelArgs?: string;
  /** Run `bootwright factory --station <file>` (full DHCP forced) instead of `bootwright server`. */
  station?: string;
}

export class SiteServer {
  private readonly agent: Agent;

  private constructor(
    readonly url: string,
    readonly socket: string,
    readonly logFile: string,
    private child: ChildProcess,
    private readonly site: SiteNetwork,
    private readonly options: SiteServerOptions,
  ) {
    this.agent = new Agent({ connect: { socketPath: socket } });
  }

  static async start(site: SiteNetwork, options: SiteServerOptions): Promise<SiteServer> {
    const port = options.port ?? 8080;
    const url = `http://${options.address ?? site.serverAddress}:${port}`;
    const socket = join(options.dataDir, "api.sock");
    const logFile = join(options.dataDir, "server.log");
    mkdirSync(options.dataDir, { recursive: true });
    const server = new SiteServer(
      url,
      socket,
      logFile,
      SiteServer.spawn(site, options, url, socket, logFile),
      site,
      options,
    );
    await server.waitUntilUp();
    return server;
  }

  private static spawn(
    site: SiteNetwork,
    options: SiteServerOptions,
    url: string,
    socket: string,
    logFile: string,
  ): ChildProcess {
    const args = [
      "--import",
      "tsx",
      join(REPO_ROOT, "server/cli/main.ts"),
      ...(options.station ? ["factory", "--station", options.station] : ["server"]),
      "--host",
      options.address ?? site.serverAddress,
      "--port",
      String(options.port ?? 8080),
      "--advertise-url",
      url,
      "--data-dir",
      options.dataDir,
      "--dhcp",
      options.dhcp,
      ...(options.dhcp === "off" ? [] : ["--interface", "br0", "--uefi-pxe", options.uefiPxe ?? "ipxe"]),
      "--socket",
      socket,
      "--log-level",
      "debug",
      ...(options.range ? ["--range", options.range] : []),
    ];
    // Test-time cadences, as startTestServer sets them: a loader with nothing to do asks again soon.
    const env = {
      ...process.env,
      BOOTWRIGHT_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      BOOTWRIGHT_POLL_INTERVAL_MS: "500",
      BOOTWRIGHT_MAINTENANCE_TICK_MS: "1000",
      BOOTWRIGHT_KERNEL_ARGS: `console=ttyS0,115200n8 quiet panic=-1${options.kernelArgs ? ` ${options.kernelArgs}` : ""}`,
    };
    return site.spawnIn(options.namespace ?? site.namespace, process.execPath, args, logFile, env);
  }

  /** Stops the server (by PID) and starts it again with the same settings and data. */
  async restart(): Promise<void> {
    await stopChild(this.child);
    this.child = SiteServer.spawn(this.site, this.options, this.url, this.socket, this.logFile);
    await this.waitUntilUp();
  }

  private async waitUntilUp(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null)
        throw new Error(`bootwright server exited (${String(this.child.exitCode)}): see ${this.logFile}`);
      // HTTP answers first; dnsmasq and TFTP start once the server listens (and the UKI is built).
      try {
        const site = await this.request("GET", "/v1/site");
        const dhcpOff = this.options.dhcp === "off";
        if (site.status === 200 && (dhcpOff || SiteStatus.parse(site.body).dnsmasq?.pid)) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`bootwright server did not come up: see ${this.logFile}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    // As an operator (the test admin token): every route a test calls here is an operator's or public.
    const headers = { ...OPERATOR, ...extraHeaders };
    const response = await fetch(`http://localhost${path}`, {
      method,
      dispatcher: this.agent,
      ...(body === undefined
        ? { headers }
        : body instanceof Uint8Array
          ? { body, headers: { "content-type": "application/octet-stream", ...headers } }
          : { headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (a script)
    }
    return { status: response.status, body: parsed };
  }

  /** Adds an image to the store (PUT /v1/images with its sha256), as `bootwright image add` does. */
  async addImage(
    file: string,
    name: string,
    kind: { format: string; purpose: string } = { format: "raw.zst", purpose: "os" },
  ): Promise<void> {
    const bytes = readFileSync(file);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const query = `name=${name}&format=${kind.format}&purpose=${kind.purpose}`;
    const answer = await this.request("PUT", `/v1/images?${query}`, bytes, {
      "x-bootwright-sha256": sha256,
    });
    if (answer.status !== 200 && answer.status !== 201)
      throw new Error(`image ${name} refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  }

  async machine(id: string): Promise<Machine | undefined> {
    const answer = await this.request("GET", `/v1/machines/${id}`);
    return answer.status === 200 ? Machine.parse(answer.body) : undefined;
  }

  async siteStatus(): Promise<SiteStatus> {
    return SiteStatus.parse((await this.request("GET", "/v1/site")).body);
  }

  async bootLog(mac?: string): Promise<BootLog> {
    return BootLog.parse((await this.request("GET", `/v1/boot-log${mac ? `?mac=${mac}` : ""}`)).body);
  }

  /** Polls the machine until `predicate` holds, or fails with what was last seen. */
  async waitForMachine(
    id: string,
    predicate: (m: Machine | undefined) => boolean,
    timeoutMs: number,
  ): Promise<Machine> {
    const deadline = Date.now() + timeoutMs;
    let last: Machine | undefined;
    for (;;) {
      last = await this.machine(id);
      if (predicate(last) && last) return last;
      if (Date.now() > deadline)
        throw new Error(
          `machine ${id} not as expected after ${timeoutMs} ms; last: ${JSON.stringify(last ?? null).slice(0, 800)}`,
        );
      await new Promise((done) => setTimeout(done, 250));
    }
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    await this.agent.close();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}
