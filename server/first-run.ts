// `bootwright init`: a new install's first configuration and first admin token. Writes the configuration
// file the server will read (checked the way the server reads it before it takes the file's place), then
// readies the state directory (the store, its migrations) as the user that owns it, so the service's own
// user can open what root made, and makes the first admin token the way the server's first start would.
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { BootwrightError, type FailureContext } from "../protocol/index.js";
import { AuthService } from "./auth/service.js";
import { writeSecretFile } from "./auth/secret-file.js";
import { configFilePath, DEFAULT_DATA_DIR, loadServerConfig, type ServerConfigInput } from "./config.js";
import { openStore } from "./db/open-store.js";
import { createLogger } from "./logger.js";

export class InitError extends BootwrightError<"init_refused"> {
  constructor(message: string, context: FailureContext<"init_refused"> = {}) {
    super("init_refused", message, context);
  }
}

/** What init may write: the settings a new site chooses first. The rest keep their defaults. */
export type InitSettings = Pick<
  ServerConfigInput,
  "host" | "port" | "advertiseUrl" | "dataDir" | "store" | "dhcp" | "interface" | "dhcpRange" | "tls"
>;

export interface InitResult {
  configFile: string;
  dataDir: string;
  /** The new admin token, or null when a live admin token exists already (none is made then). */
  adminToken: string | null;
  adminTokenFile: string;
}

/**
 * Root runs init (it writes under /etc); the state belongs to the service's user, who owns the state
 * directory the package made. Everything init makes there is made as that user.
 */
function becomeOwnerOf(dir: string): void {
  if (process.getuid?.() !== 0 || !existsSync(dir)) return;
  const { uid, gid } = statSync(dir);
  if (uid === 0) return;
  process.setgroups?.([gid]);
  process.setgid?.(gid);
  process.setuid?.(uid);
}

export async function initInstall(
  settings: InitSettings,
  options: { configFile?: string; force?: boolean; env?: NodeJS.ProcessEnv; when?: Date } = {},
): Promise<InitResult> {
  const env = options.env ?? process.env;
  const file = configFilePath(options.configFile, env);
  if (!file) throw new InitError("say where the configuration goes: --config <file> (or BOOTWRIGHT_CONFIG)");
  if (existsSync(file) && !options.force)
    throw new InitError(`${file} exists: edit it, or run init with --force to replace it`, { file });

  // The data directory is written down, absolute: the file must mean the same from any working directory.
  const chosen = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
  const content = { ...chosen, dataDir: resolve(settings.dataDir ?? DEFAULT_DATA_DIR) };
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}`;
  writeSecretFile(temp, `${JSON.stringify(content, null, 2)}\n`);
  let config;
  try {
    config = loadServerConfig({}, { env: {}, configFile: temp });
    // Readable by the service's group: the file takes its directory's group (root:bootwright /etc/bootwright).
    if (process.getuid?.() === 0) chownSync(temp, 0, statSync(dirname(file)).gid);
    chmodSync(temp, 0o640);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  renameSync(temp, file);

  becomeOwnerOf(config.dataDir);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o750 });
  const store = await openStore(config.store ?? `sqlite:${join(config.dataDir, "bootwright.sqlite")}`);
  try {
    const adminTokenFile = join(config.dataDir, "admin-token");
    const auth = new AuthService(store, createLogger("warn", process.stderr));
    const token = await auth.ensureAdmin(adminTokenFile, config.adminToken, options.when ?? new Date());
    return { configFile: file, dataDir: config.dataDir, adminToken: token ?? null, adminTokenFile };
  } finally {
    await store.close();
  }
}
