// `npm run build`: the server and the CLI as one esbuild bundle in dist/ (dist/cli.mjs and the chunks it
// loads on demand), so an install runs without tsx nor TypeScript. What stays outside the bundle stays a
// dependency in package.json: the native addons (a .node file cannot be bundled) and esbuild itself,
// which the agent builder runs at run time over agent/ and protocol/ (those sources ship beside dist/).
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { NODE_ESM_BUNDLE } from "./esbuild-node.js";

const ROOT = resolve(import.meta.dirname, "..");
export const DIST_DIR = join(ROOT, "dist");

/**
 * Loaded from node_modules at run time. pg-native is pg's optional native client, which we never use:
 * pg require()s it only when asked for, so leaving it out costs nothing.
 */
export const RUNTIME_EXTERNALS = ["better-sqlite3", "zstd-napi", "esbuild", "pg-native"];

export async function buildDist(outDir: string = DIST_DIR): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  await build({
    entryPoints: { cli: join(ROOT, "server/cli/main.ts") },
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    // Chunks: `bootwright --help` loads the command definitions, not the server behind `bootwright server`.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    ...NODE_ESM_BUNDLE,
    external: RUNTIME_EXTERNALS,
    legalComments: "none",
    logLevel: "warning",
  });
}

if (import.meta.filename === process.argv[1]) {
  const started = performance.now();
  await buildDist();
  process.stderr.write(`[build] dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
