// A benchmark's host-side program as one ESM file run by plain `node` (as the loader runs its agents):
// no TypeScript compiled in each of the processes a benchmark starts.
import { build } from "esbuild";
import { NODE_ESM_BUNDLE } from "../build-scripts/esbuild-node.js";

export async function bundleForNode(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    ...NODE_ESM_BUNDLE,
    logLevel: "warning",
  });
  return outfile;
}
