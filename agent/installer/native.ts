// Native addons the agent uses (zstd-napi). esbuild cannot bundle a .node file, so the initramfs carries
// the package at a fixed place beside Node, and a bundle loaded from /tmp finds it there; on a host (tests,
// the batch benchmark) BOOTWRIGHT_NODE_MODULES points at the project's node_modules.
import { createRequire } from "node:module";
import type * as Zstd from "zstd-napi";

export const INITRAMFS_NODE_MODULES = "/usr/lib/bootwright/node_modules";

export function loadZstd(): typeof Zstd {
  const dir = process.env.BOOTWRIGHT_NODE_MODULES ?? INITRAMFS_NODE_MODULES;
  try {
    return createRequire(`${dir}/`)("zstd-napi") as typeof Zstd;
  } catch (err) {
    throw new Error(
      `cannot load zstd-napi from ${dir} (the initramfs carries it there; set BOOTWRIGHT_NODE_MODULES elsewhere): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
