// How we bundle TypeScript into ESM that plain Node runs: the loader, the tailored agents, the
// maintenance programs, the CLI's dist and the benchmarks' host programs.
import type { BuildOptions } from "esbuild";

/**
 * undici and zstd-napi's wrapper are CommonJS and require() Node's modules, and esbuild's ESM output has
 * no real require (its shim throws "Dynamic require of … is not supported").
 */
const NODE_REQUIRE_BANNER =
  'import { createRequire as __bootwrightCreateRequire } from "node:module"; const require = __bootwrightCreateRequire(import.meta.url);';

/** The esbuild options every bundle we run under Node shares: one ESM file (or chunks) for Node 20. */
export const NODE_ESM_BUNDLE = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  banner: { js: NODE_REQUIRE_BANNER },
} as const satisfies BuildOptions;
