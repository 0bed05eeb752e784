// Where this copy of bootwright is: the folder holding its package.json. The same answer from the sources
// (server/…), from the bundle (dist/…) and from the Debian package (/usr/lib/bootwright/dist/…), so the
// files the server reads beside its code (ipxe-scripts/, the agent's sources, build/) are found in all three.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

function rootAbove(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}: not a bootwright tree`);
  }
}

export const INSTALL_ROOT = rootAbove(import.meta.dirname);

/** Where the Debian package puts the program (build-scripts/package/); a checkout is anywhere else. */
export const PACKAGE_ROOT = "/usr/lib/bootwright";

/** True for the Debian package's copy: its state and configuration follow the FHS, not the checkout's ./var. */
export const INSTALLED_AS_PACKAGE = INSTALL_ROOT === PACKAGE_ROOT;
