// A throwaway Debian 12 system to install packages into, for the package test: the OS image builder's
// debootstrap tree (read-only), a cached layer with given Debian packages installed from the configured
// mirror, and a fresh writable layer per test, stacked with overlayfs. Nothing under build/images or
// build/os-cache changes, and a test starts from a clean system in about a second. Everything it mounts
// (the overlay, /proc, /dev) is unmounted by close(), which the test calls in afterAll.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianBootstrapTree } from "../build-scripts/build-os-image.js";
import { withLock } from "../build-scripts/os-image/lock.js";
import { run, runText } from "../build-scripts/os-image/run.js";
import { removeTree } from "../build-scripts/os-image/tree.js";
import { REPO_ROOT } from "./paths.js";

const LAYERS_DIR = join(REPO_ROOT, "build/package-test");
/** What a root shell in the chroot gets: no host variables leak in (the host's PATH, npm's, vitest's). */
export const CHROOT_ENV = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  LANG: "C.UTF-8",
  HOME: "/root",
};
/** Package scripts must not start services in a chroot (Debian's convention: policy-rc.d says no). */
const POLICY_RC_D = "#!/bin/sh\n# bootwright's package test: start nothing\nexit 101\n";
const APT_TIMEOUT_MS = 10 * 60_000;

export interface Chroot {
  /** The merged root, as the host sees it. */
  root: string;
  /** Runs argv inside the chroot as root; resolves with stdout. */
  run(argv: readonly string[], env?: Record<string, string>): Promise<string>;
  /** Unmounts everything and deletes the writable layer; safe to call twice and after a failed start. */
  close(): Promise<void>;
}

async function unmount(path: string): Promise<void> {
  try {
    await run("umount", [path]);
  } catch {
    await run("umount", ["--lazy", path]); // busy (a process still in it): detach now, gone when it ends
  }
}

/** Mounts lowers (top first) + a new upper at a new mount point, with /proc and /dev inside. */
async function mountStack(
  lowers: readonly string[],
  scratch: string,
): Promise<{ root: string; upper: string; close(): Promise<void> }> {
  const upper = join(scratch, "upper");
  const work = join(scratch, "work");
  const root = join(scratch, "root");
  for (const dir of [upper, work, root]) mkdirSync(dir, { recursive: true });
  const mounted: string[] = [];
  const close = async (): Promise<void> => {
    for (const path of mounted.splice(0).reverse()) await unmount(path);
  };
  try {
    await run("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${lowers.join(":")},upperdir=${upper},workdir=${work}`,
      root,
    ]);
    mounted.push(root);
    await run("mount", ["-t", "proc", "proc", join(root, "proc")]);
    mounted.push(join(root, "proc"));
    await run("mount", ["--bind", "/dev", join(root, "dev")]);
    mounted.push(join(root, "dev"));
  } catch (err) {
    await close();
    throw err;
  }
  return { root, upper, close };
}

function inChroot(root: string) {
  return (argv: readonly string[], env: Record<string, string> = {}): Promise<string> =>
    runText("chroot", [root, ...argv], { env: { ...CHROOT_ENV, ...env }, timeoutMs: APT_TIMEOUT_MS });
}

/**
 * The cached layer: `packages` installed with apt from the mirror debootstrap used. Keyed by the tree,
 * the package list and the apt sources, so a change to any of them makes a new layer.
 */
async function packagesLayer(
  base: { dir: string; key: string },
  packages: readonly string[],
  log: (line: string) => void,
): Promise<string> {
  const sources = readFileSync(join(base.dir, "etc/apt/sources.list"), "utf8");
  const key = createHash("sha256")
    .update(JSON.stringify({ base: base.key, packages: [...packages].sort(), sources }))
    .digest("hex")
    .slice(0, 16);
  const layer = join(LAYERS_DIR, `layer-${key}`);
  if (existsSync(layer)) return layer;
  mkdirSync(LAYERS_DIR, { recursive: true });
  return withLock(join(LAYERS_DIR, "layer.lock"), APT_TIMEOUT_MS, log, async () => {
    if (existsSync(layer)) return layer;
    log(`[package-test] installing ${packages.join(" ")} into a cached chroot layer (once)`);
    const scratch = mkdtempSync(join(LAYERS_DIR, "building-"));
    try {
      const stack = await mountStack([base.dir], scratch);
      try {
        writeFileSync(join(stack.root, "etc/resolv.conf"), readFileSync("/etc/resolv.conf"));
        writeFileSync(join(stack.root, "usr/sbin/policy-rc.d"), POLICY_RC_D, { mode: 0o755 });
        const chroot = inChroot(stack.root);
        await chroot(["apt-get", "update", "-qq"]);
        await chroot(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages], {
          DEBIAN_FRONTEND: "noninteractive",
        });
        await chroot(["apt-get", "clean"]);
        await chroot(["sh", "-c", "rm -rf /var/lib/apt/lists/*"]);
      } finally {
        await stack.close();
      }
      renameSync(join(scratch, "upper"), layer);
    } finally {
      await removeTree(scratch);
    }
    return layer;
  });
}

/** A fresh Debian 12 chroot with `packages` already installed. */
export async function debianChroot(
  packages: readonly string[],
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<Chroot> {
  const base = await debianBootstrapTree(log);
  const layer = await packagesLayer(base, packages, log);
  const scratch = mkdtempSync(join(tmpdir(), "bootwright-chroot-"));
  let stack: Awaited<ReturnType<typeof mountStack>> | undefined;
  try {
    stack = await mountStack([layer, base.dir], scratch);
  } catch (err) {
    await removeTree(scratch);
    throw err;
  }
  const mounted = stack;
  let closed = false;
  return {
    root: mounted.root,
    run: inChroot(mounted.root),
    async close() {
      if (closed) return;
      closed = true;
      await mounted.close();
      await removeTree(scratch);
    },
  };
}
