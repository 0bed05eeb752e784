// Lays out a relay's directory (cache, nginx's temp files, logs) and writes its nginx configuration
// there atomically, after nginx itself accepted it (`nginx -t`): a bad config never replaces a good one.
// Beside it, the relay's dnsmasq configuration: the site-boot proxyDHCP (server/site/dnsmasq-config.ts)
// pointing machines at the relay's nginx, with dnsmasq's own TFTP serving the network boot programs.
import { execFile } from "node:child_process";
import { chownSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeFileDurably } from "../auth/secret-file.js";
import { userIds } from "../system-user.js";
import { renderDnsmasqConfig, type UefiPxeProgram } from "../site/dnsmasq-config.js";
import type { InterfaceAddress } from "../site/interface.js";
import { nginxConfig, type RelaySettings } from "./nginx-config.js";

/** Debian's nginx. */
export const NGINX = "/usr/sbin/nginx";

/** Runs the program's own check of a config file written beside its place; a refused one is removed. */
async function accepted(temp: string, program: string, args: string[]): Promise<void> {
  try {
    await promisify(execFile)(program, args, { timeout: 30_000 });
  } catch (err) {
    rmSync(temp, { force: true });
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`relay config: ${program} refused it: ${stderr || String(err)}`, { cause: err });
  }
}

/** Writes `<dir>/nginx.conf` (and the directories it names); returns the file's path. */
export async function writeRelayConfig(settings: RelaySettings): Promise<string> {
  const text = nginxConfig(settings);
  const { dir } = settings;
  const workers = process.getuid?.() === 0 ? userIds(settings.user, "Debian's nginx package") : undefined;
  mkdirSync(join(dir, "logs"), { recursive: true });
  // What nginx's workers write: theirs when nginx starts as root and they run as `user`.
  for (const sub of ["cache", "tmp"]) {
    mkdirSync(join(dir, sub), { recursive: true, mode: 0o750 });
    if (workers) chownSync(join(dir, sub), workers.uid, workers.gid);
  }
  const file = join(dir, "nginx.conf");
  // Beside the file, checked there, then put in its place.
  const temp = `${file}.new`;
  writeFileDurably(temp, text, 0o644);
  await accepted(temp, NGINX, ["-t", "-q", "-p", dir, "-c", temp]);
  renameSync(temp, file);
  return file;
}

export interface RelayBootSettings {
  /** The interface the rack's machines are on, with the address nginx listens on. */
  on: InterfaceAddress;
  /** nginx's port there. */
  port: number;
  /** The relay's directory (as for nginx). */
  dir: string;
  /** Where the network boot programs are (build-scripts/fetch-boot-files.sh). */
  bootFilesDir: string;
  uefiPxe: Exclude<UefiPxeProgram, "shim">;
}

/** Writes `<dir>/dnsmasq.conf` (proxyDHCP + TFTP naming the relay) once dnsmasq accepted it; returns its path. */
export async function writeRelayDnsmasqConfig(settings: RelayBootSettings): Promise<string> {
  const { on } = settings;
  const text = renderDnsmasqConfig({
    mode: "proxy",
    interface: on.interface,
    address: on.address,
    network: on.network,
    netmask: on.netmask,
    serverUrl: `http://${on.address}:${settings.port}`,
    uefiPxe: settings.uefiPxe,
    tftpRoot: settings.bootFilesDir,
  });
  mkdirSync(settings.dir, { recursive: true });
  const file = join(settings.dir, "dnsmasq.conf");
  const temp = `${file}.new`;
  writeFileDurably(temp, text, 0o644);
  await accepted(temp, "dnsmasq", ["--test", `--conf-file=${temp}`]);
  renameSync(temp, file);
  return file;
}
