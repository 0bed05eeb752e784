// The process's connections from here on trust one CA alone (pinned-tls.ts decides which). A module of
// its own so the loader imports undici only when a pinned server needs it: Node's fetch takes a CA only
// through an undici dispatcher. (A bundled `import("undici")` would not do: esbuild gives a CommonJS
// package's dynamic import only a default export.)
import { Agent, setGlobalDispatcher } from "undici";

/** Makes `caPem` the only CA of every later fetch and undici request of this process. */
export function trustOnly(caPem: string): void {
  setGlobalDispatcher(new Agent({ connect: { ca: caPem } }));
}
