// A system user's ids from /etc/passwd (Node has no getpwnam): for files made as root that a service's
// own user must then write (PostgreSQL's data directory, a relay's nginx cache).
import { readFileSync } from "node:fs";

/** The uid and gid of a system user; throws naming the package that makes it when there is none. */
export function userIds(name: string, madeBy: string): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  const fields = line?.split(":");
  if (!fields?.[2] || !fields[3]) throw new Error(`no ${name} user in /etc/passwd (${madeBy} makes it)`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
