// The server's configuration: flags > environment > JSON file > defaults, parsed once by zod into a
// frozen object passed down. The only module that reads process.env (style.md §10).
import { existsSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { resolve } from "node:path";
import * as z from "zod";
import { BootwrightError, type FailureContext } from "../protocol/index.js";
import { INSTALL_ROOT, INSTALLED_AS_PACKAGE } from "./install-root.js";

const REPO_ROOT = INSTALL_ROOT;
/** A checkout keeps its state in ./var; the Debian package in /var/lib/bootwright (the FHS's place). */
export const DEFAULT_DATA_DIR = INSTALLED_AS_PACKAGE ? "/var/lib/bootwright" : resolve(REPO_ROOT, "var");
/** The Debian package's configuration file, read when nothing names another (build-scripts/package/). */
export const PACKAGE_CONFIG_FILE = "/etc/bootwright/config.json";

const ServerConfigSchema = z.strictObject({
  /** Address to listen on. */
  host: z.string().default("0.0.0.0"),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  /**
   * The URL machines use to reach us; not the listen address (e.g. http://10.0.2.2:8080 for QEMU user
   * networking). `{port}` in it becomes the port actually bound (for --port 0).
   */
  advertiseUrl: z.string().optional(),
  /** Where the state lives: the SQLite store (unless `store` names another), images, agents, boot areas. */
  dataDir: z.string().default(DEFAULT_DATA_DIR),
  /**
   * The store: `sqlite:<file>`, or a PostgreSQL URL (`postgres://user@host/db`, `?host=<socket dir>`
   * for a Unix socket). Default: SQLite at <dataDir>/bootwright.sqlite. Images stay in <dataDir>.
   */
  store: z
    .string()
    .refine((value) => /^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(value), {
      message: "must be sqlite:<file> or postgres://…",
    })
    .optional(),
  kernelPath: z.string().default(resolve(REPO_ROOT, "build/kernel/vmlinuz")),
  initramfsPath: z.string().default(resolve(REPO_ROOT, "build/initramfs.img")),
  /** Kernel module trees, one <release>/ folder each, sent on demand by PCI id (server/drivers/). */
  modulesPath: z.string().default(resolve(REPO_ROOT, "build/kernel/lib/modules")),
  /** Firmware files sent with them (Debian's firmware packages: build-scripts/fetch-firmware.sh). */
  firmwarePath: z.string().default(resolve(REPO_ROOT, "build/firmware/lib/firmware")),
  /** Extra kernel arguments for the loader: consoles on screen and first serial port. */
  kernelArgs: z.string().default("console=tty0 console=ttyS0,115200n8 quiet panic=30"),
  /** Largest request body accepted, bytes. An inventory of a big machine is a few tens of KB. */
  bodyLimitBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1 << 20),
  /**
   * Enrollment and inventory (the routes open to anyone that write) per source address, IPv6 by /64
   * (server/http/rate-limit.ts): this many at once (a rack booting behind one relay must fit; 0 turns
   * the limit off) …
   */
  rateLimitBurst: z.coerce.number().int().nonnegative().default(120),
  /** … then this many a second. */
  rateLimitPerSecond: z.coerce.number().positive().default(10),
  /** How long a leased command belongs to its agent before it is handed out again. */
  leaseMs: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 60_000),
  /** write-image's lease: the whole image transfer must fit in it. */
  imageLeaseMs: z.coerce
    .number()
    .int()
    .positive()
    .default(60 * 60_000),
  /** How long a machine rebooting into its install has to call home before it is marked failed. */
  callHomeTimeoutMs: z.coerce
    .number()
    .int()
    .positive()
    .default(15 * 60_000),
  /** How often the server looks for leases that ran out on machines that are not asking for work. */
  leaseSweepMs: z.coerce.number().int().positive().default(30_000),
  /** How long an image batch waits for the machines that will join it (server/images/fanout.ts). */
  batchWindowMs: z.coerce.number().int().nonnegative().default(10_000),
  /** Recipes' files served to install scripts, one directory per recipe (default <dataDir>/recipes). */
  recipesDir: z.string().optional(),
  /** How often an idle loader asks for work. */
  pollIntervalMs: z.coerce.number().int().positive().default(5_000),
  /** A maintenance run's default deadline: from the swap to the run's report (seed 001). */
  maintenanceTimeoutMs: z.coerce
    .number()
    .int()
    .positive()
    .default(30 * 60_000),
  /** How often an active maintenance run must report; one overdue by 3× this fails the run. */
  maintenanceReportMs: z.coerce.number().int().positive().default(10_000),
  /** How often the maintenance monitor looks at runs' deadlines and at due schedules. */
  maintenanceTickMs: z.coerce.number().int().positive().default(5_000),
  /** How often an installed OS's reporter sends its health figures. */
  healthReportMs: z.coerce.number().int().positive().default(60_000),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** A policy file (.yaml/.yml/.json) loaded at start-up into the store; a bad one stops start-up. */
  policyFile: z.string().optional(),
  /** A factory station file (.yaml/.yml/.json, issue 22) stored at start-up; a bad one stops start-up. */
  stationFile: z.string().optional(),
  /**
   * The managed dnsmasq (server/site/): off; proxy (beside the site's DHCP server, never leasing an
   * address); or full (the only DHCP server of an isolated network, leasing from `dhcpRange`).
   */
  dhcp: z.enum(["off", "proxy", "full"]).default("off"),
  /** The provisioning interface dnsmasq and TFTP serve on (needed unless dhcp is off). */
  interface: z.string().optional(),
  /** Full DHCP's addresses: "<first>-<last>", inside the interface's network. */
  dhcpRange: z.string().optional(),
  /** What UEFI x64 PXE clients are given: ipxe.efi, snponly.efi, or shim (the signed chain). */
  uefiPxe: z.enum(["ipxe", "snponly", "shim"]).default("ipxe"),
  /** The network boot programs (iPXE, shim, signed GRUB) TFTP serves: build-scripts/fetch-boot-files.sh. */
  bootFilesDir: z.string().default(resolve(REPO_ROOT, "build/boot-files")),
  /** Also answer the API on this Unix socket (local tools; tests in another network namespace). */
  socket: z.string().optional(),
  /** How long the boot log keeps what machines asked for. */
  bootLogDays: z.coerce.number().positive().default(14),
  /**
   * Servers sharing a PostgreSQL store: how long a server's registration and the periodic work it holds
   * last without a heartbeat (one every third of it); a killed holder's work moves on within this.
   */
  clusterLeaseMs: z.coerce.number().int().min(300).default(15_000),
  /**
   * The first admin token, for unattended installs (environment BOOTWRIGHT_ADMIN_TOKEN only: never a flag,
   * which `ps` would show). Without it the first start makes one and writes it to <dataDir>/admin-token.
   */
  adminToken: z.string().optional(),
  /**
   * TLS for the API: off; auto (a CA and server certificate made on first start in <dataDir>/tls, the CA's
   * fingerprint pinned by every loader). `tlsCert`/`tlsKey` take the site's own chain instead.
   */
  tls: z.enum(["off", "auto"]).default("off"),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
});

export type ServerConfig = Readonly<
  Omit<z.infer<typeof ServerConfigSchema>, "advertiseUrl"> & { advertiseUrl: string }
>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

const ENV_KEYS: Record<string, keyof ServerConfigInput> = {
  BOOTWRIGHT_HOST: "host",
  BOOTWRIGHT_PORT: "port",
  BOOTWRIGHT_ADVERTISE_URL: "advertiseUrl",
  BOOTWRIGHT_DATA_DIR: "dataDir",
  BOOTWRIGHT_STORE: "store",
  BOOTWRIGHT_KERNEL: "kernelPath",
  BOOTWRIGHT_INITRAMFS: "initramfsPath",
  BOOTWRIGHT_MODULES: "modulesPath",
  BOOTWRIGHT_FIRMWARE: "firmwarePath",
  BOOTWRIGHT_KERNEL_ARGS: "kernelArgs",
  BOOTWRIGHT_BODY_LIMIT: "bodyLimitBytes",
  BOOTWRIGHT_LOG_LEVEL: "logLevel",
  BOOTWRIGHT_RATE_LIMIT_BURST: "rateLimitBurst",
  BOOTWRIGHT_RATE_LIMIT_PER_SECOND: "rateLimitPerSecond",
  BOOTWRIGHT_LEASE_MS: "leaseMs",
  BOOTWRIGHT_POLL_INTERVAL_MS: "pollIntervalMs",
  BOOTWRIGHT_IMAGE_LEASE_MS: "imageLeaseMs",
  BOOTWRIGHT_CALL_HOME_TIMEOUT_MS: "callHomeTimeoutMs",
  BOOTWRIGHT_BATCH_WINDOW_MS: "batchWindowMs",
  BOOTWRIGHT_RECIPES_DIR: "recipesDir",
  BOOTWRIGHT_POLICY: "policyFile",
  BOOTWRIGHT_STATION: "stationFile",
  BOOTWRIGHT_MAINTENANCE_TIMEOUT_MS: "maintenanceTimeoutMs",
  BOOTWRIGHT_MAINTENANCE_REPORT_MS: "maintenanceReportMs",
  BOOTWRIGHT_MAINTENANCE_TICK_MS: "maintenanceTickMs",
  BOOTWRIGHT_HEALTH_REPORT_MS: "healthReportMs",
  BOOTWRIGHT_DHCP: "dhcp",
  BOOTWRIGHT_INTERFACE: "interface",
  BOOTWRIGHT_DHCP_RANGE: "dhcpRange",
  BOOTWRIGHT_UEFI_PXE: "uefiPxe",
  BOOTWRIGHT_BOOT_FILES: "bootFilesDir",
  BOOTWRIGHT_SOCKET: "socket",
  BOOTWRIGHT_BOOT_LOG_DAYS: "bootLogDays",
  BOOTWRIGHT_CLUSTER_LEASE_MS: "clusterLeaseMs",
  BOOTWRIGHT_ADMIN_TOKEN: "adminToken",
  BOOTWRIGHT_TLS: "tls",
  BOOTWRIGHT_TLS_CERT: "tlsCert",
  BOOTWRIGHT_TLS_KEY: "tlsKey",
};

export class ConfigError extends BootwrightError<"invalid_config"> {
  constructor(message: string, context: FailureContext<"invalid_config"> = {}, options?: ErrorOptions) {
    super("invalid_config", message, context, options);
  }
}

function fromEnv(env: NodeJS.ProcessEnv): Partial<ServerConfigInput> {
  const out: Record<string, string> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== "") out[key] = value;
  }
  return out;
}

function fromFile(path: string | undefined): Partial<ServerConfigInput> {
  if (!path) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { file: path },
      { cause: err },
    );
  }
  const parsed = ServerConfigSchema.partial().safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(`config file ${path}: ${z.prettifyError(parsed.error)}`, { file: path });
  return parsed.data;
}

/** The configuration file: --config, else BOOTWRIGHT_CONFIG, else (the package's copy) its /etc file. */
export function configFilePath(named: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return (
    named ?? (env.BOOTWRIGHT_CONFIG || undefined) ?? (INSTALLED_AS_PACKAGE ? PACKAGE_CONFIG_FILE : undefined)
  );
}

/**
 * What a machine on the same network would reach us at: the provisioning interface's IPv4 address when
 * one is named, else the first non-internal IPv4 address.
 */
function guessedIpv4(iface: string | undefined): string | undefined {
  const candidates = iface === undefined ? Object.values(networkInterfaces()) : [networkInterfaces()[iface]];
  for (const addrs of candidates) {
    for (const addr of addrs ?? []) if (addr.family === "IPv4" && !addr.internal) return addr.address;
  }
  return undefined;
}

/** Merges the sources and validates; contradictions fail here, at start-up. */
export function loadServerConfig(
  flags: { [K in keyof ServerConfigInput]?: unknown },
  options: { env?: NodeJS.ProcessEnv; configFile?: string } = {},
): ServerConfig {
  const env = options.env ?? process.env;
  const file = configFilePath(options.configFile, env);
  const merged = {
    // Until `bootwright init` writes it, the package's file is not there: the defaults apply.
    ...(file === PACKAGE_CONFIG_FILE && !existsSync(file) ? {} : fromFile(file)),
    ...fromEnv(env),
    ...definedOnly(flags),
  };
  const parsed = ServerConfigSchema.safeParse(merged);
  if (!parsed.success)
    throw new ConfigError(`invalid server configuration: ${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  if (config.dhcp !== "off" && !config.interface)
    throw new ConfigError(`--dhcp ${config.dhcp} needs --interface: the network machines boot on`);
  if (config.dhcp === "full" && !config.dhcpRange)
    throw new ConfigError("--dhcp full needs --range <first>-<last>: the addresses it may lease");
  if (config.dhcp !== "full" && config.dhcpRange)
    throw new ConfigError(`--range is for --dhcp full; in ${config.dhcp} mode the site's DHCP server leases`);
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined))
    throw new ConfigError("--tls-cert and --tls-key go together: the site's certificate chain and its key");
  if (config.tlsCert !== undefined && config.tls === "auto")
    throw new ConfigError("--tls auto makes its own certificate: drop it, or drop --tls-cert/--tls-key");
  let advertiseUrl = config.advertiseUrl;
  if (!advertiseUrl) {
    const wildcard = config.host === "0.0.0.0" || config.host === "::";
    const host = wildcard ? guessedIpv4(config.interface) : config.host;
    if (!host) throw new ConfigError("cannot guess the URL machines should use: set --advertise-url");
    // An IPv6 literal needs brackets in a URL (RFC 3986 §3.2.2), or "::1:{port}" is not one.
    advertiseUrl = `http://${host.includes(":") ? `[${host}]` : host}:{port}`;
  }
  if (!z.url().safeParse(advertiseUrl.replace("{port}", "1")).success) {
    throw new ConfigError(`advertise URL is not a URL: ${advertiseUrl}`);
  }
  return Object.freeze({ ...config, advertiseUrl: advertiseUrl.replace(/\/+$/, "") });
}

function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Where CLI client commands find the server: --server, else BOOTWRIGHT_SERVER, else localhost:8080. */
export function clientServerUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return (flag ?? env.BOOTWRIGHT_SERVER ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
}
