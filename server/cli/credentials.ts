// The CLI's API token: BOOTWRIGHT_TOKEN, else the profile `bootwright login` wrote for that server
// (~/.config/bootwright/credentials.json, 0600). Never a flag: argv is visible to every user in `ps`.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as z from "zod";
import { writeSecretFile } from "../auth/secret-file.js";

const Profile = z.object({ servers: z.record(z.string(), z.object({ token: z.string() })) });

export function profilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "bootwright", "credentials.json");
}

function readProfile(path: string): z.infer<typeof Profile> {
  if (!existsSync(path)) return { servers: {} };
  const parsed = Profile.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success)
    throw new Error(`${path} is not a bootwright credentials file: remove it and log in again`);
  return parsed.data;
}

/** The token for requests to `serverUrl` (an origin or any URL on it). */
export function clientToken(serverUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.BOOTWRIGHT_TOKEN) return env.BOOTWRIGHT_TOKEN.trim();
  const origin = new URL(serverUrl).origin;
  return readProfile(profilePath(env)).servers[origin]?.token;
}

/** Keeps `token` for `serverUrl` in the profile (atomically, 0600). */
export function saveToken(serverUrl: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const path = profilePath(env);
  const profile = readProfile(path);
  profile.servers[new URL(serverUrl).origin] = { token };
  writeSecretFile(path, `${JSON.stringify(profile, null, 2)}\n`, 0o700);
  return path;
}
