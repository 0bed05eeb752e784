// Native addons the agent uses (zstd-napi). esbuild cannot bundle a .node file, so the initramfs carries
// the package at a fixed place beside Node, and a bundle loaded from /tmp finds it there; on a host (tests,
// the batch benchmark) BOOTWRIGHT_NODE_MODULES points at the project's node_modules.
import { createRequire } from "node:module";
import type * as Zstd from "zstd-napi";
import type * as ZstdBinding from "zstd-napi/binding.js";

export const INITRAMFS_NODE_MODULES = "/usr/lib/bootwright/node_modules";

export function loadZstd(): typeof Zstd {
  return load("zstd-napi") as typeof Zstd;
}

/** zstd-napi's raw binding (ZSTD_decompressStream into buffers we own): the install stream's decoder. */
export function loadZstdBinding(): typeof ZstdBinding {
  return load("zstd-napi/binding.js") as typeof ZstdBinding;
}

/** Where the native addons are: the initramfs's copy, or BOOTWRIGHT_NODE_MODULES on a host. */
export function nodeModulesDir(): string {
  return process.env.BOOTWRIGHT_NODE_MODULES ?? INITRAMFS_NODE_MODULES;
}

function load(module: string): unknown {
  const dir = nodeModulesDir();
  try {
    return createRequire(`${dir}/`)(module) as unknown;
  } catch (err) {
    throw new Error(
      `cannot load zstd-napi from ${dir} (the initramfs carries it there; set BOOTWRIGHT_NODE_MODULES elsewhere): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
