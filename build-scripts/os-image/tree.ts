// Removes a build tree safely. debootstrap mounts /proc and /sys inside its target while it runs; if it
// dies, those mounts stay, and a plain recursive delete would walk into the host's /proc and /sys.
import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { run } from "./run.js";

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const root = resolve(dir);
  return mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => Boolean(point))
    .map((point) =>
      point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))),
    )
    .filter((point) => point === root || point.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

export async function removeTree(dir: string): Promise<void> {
  for (const point of mountsUnder(readFileSync("/proc/self/mountinfo", "utf8"), dir)) {
    await run("umount", ["--lazy", point]);
  }
  const left = mountsUnder(readFileSync("/proc/self/mountinfo", "utf8"), dir);
  if (left.length) throw new Error(`refusing to delete ${dir}: still mounted under it: ${left.join(", ")}`);
  rmSync(dir, { recursive: true, force: true });
}
