// What every ESM bundle we run under Node needs (the loader, the tailored agents, the benchmark's stream
// CLI): undici and zstd-napi's wrapper are CommonJS and require() Node's modules, and esbuild's ESM
// output has no real require (its shim throws "Dynamic require of … is not supported").
export const NODE_REQUIRE_BANNER =
  'import { createRequire as __bootwrightCreateRequire } from "node:module"; const require = __bootwrightCreateRequire(import.meta.url);';
