// Lays out a relay's directory (cache, nginx's temp files, logs) and writes its nginx configuration
// there atomically, after nginx itself accepted it (`nginx -t`): a bad config never replaces a good one.
import { execFile } from "node:child_process";
import { chownSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeFileDurably } from "../auth/secret-file.js";
import { userIds } from "../system-user.js";
import { nginxConfig, type RelaySettings } from "./nginx-config.js";

/** Debian's nginx. */
export const NGINX = "/usr/sbin/nginx";

/** The IPv4 address of a network interface: where the rack's machines reach the relay. */
export function interfaceAddress(name: string): string {
  const addresses = networkInterfaces()[name];
  if (!addresses) throw new Error(`relay config: no network interface ${name}`);
  const v4 = addresses.find((a) => a.family === "IPv4");
  if (!v4) throw new Error(`relay config: interface ${name} has no IPv4 address`);
  return v4.address;
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
  try {
    await promisify(execFile)(NGINX, ["-t", "-q", "-p", dir, "-c", temp], { timeout: 30_000 });
  } catch (err) {
    rmSync(temp, { force: true });
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`relay config: nginx refused it: ${stderr || String(err)}`, { cause: err });
  }
  renameSync(temp, file);
  return file;
}
