// Where a process's CPU time went, by layer, from a V8 .cpuprofile (node --cpu-prof): each sample goes
// to the layer of the innermost frame that names one (a native call such as a SQLite statement or
// JSON.stringify counts for the code that made it, unless it is JSON itself).
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  /** Microseconds on CLOCK_MONOTONIC, the clock of process.hrtime in every process of this machine. */
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Layers in the order they are tried on a frame; the first whose test holds names it. */
const LAYERS: [string, (frame: ProfileNode["callFrame"]) => boolean][] = [
  ["gc", (f) => f.functionName === "(garbage collector)"],
  ["idle", (f) => f.functionName === "(idle)"],
  ["JSON", (f) => f.url === "" && (f.functionName === "stringify" || f.functionName === "parse")],
  ["logging", (f) => /node_modules\/(pino|sonic-boom|thread-stream|pino-std-serializers)\//.test(f.url)],
  ["zod", (f) => /node_modules\/(zod|fastify-type-provider-zod)\//.test(f.url)],
  ["sqlite", (f) => /node_modules\/better-sqlite3\/|\/server\/db\//.test(f.url)],
  ["crypto", (f) => /^node:(internal\/)?crypto/.test(f.url) || /\/server\/auth\//.test(f.url)],
  [
    "fastify",
    (f) =>
      /node_modules\/(fastify|find-my-way|avvio|fast-json-stringify|@fastify|light-my-request|proxy-addr|fast-querystring|content-type|secure-json-parse)/.test(
        f.url,
      ),
  ],
  ["http+net", (f) => /^node:(_http|http|net|_tls|tls|stream|internal\/(streams|http|net|tls))/.test(f.url)],
  ["bootwright", (f) => /\/(server|protocol)\//.test(f.url)],
];

/** Now on the profiles' clock, in microseconds: to mark the window a breakdown covers. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Milliseconds per layer (plus "other") in the samples taken between `fromUs` and `toUs`, largest first. */
export function profileBreakdown(file: string, fromUs: number, toUs: number): [string, number][] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const parent = new Map<number, ProfileNode>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node);
  }
  const layerOf = new Map<number, string>();
  const layer = (node: ProfileNode): string => {
    const known = layerOf.get(node.id);
    if (known !== undefined) return known;
    const own = LAYERS.find(([, test]) => test(node.callFrame))?.[0];
    const up = parent.get(node.id);
    const found = own ?? (up ? layer(up) : "other");
    layerOf.set(node.id, found);
    return found;
  };
  const totals = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node || at < fromUs || at > toUs) return;
    const name = layer(node);
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** A process's CPU time so far (user + system, all its threads), ms, from /proc/<pid>/stat. */
export function processCpuMs(child: ChildProcess): number {
  const stat = readFileSync(`/proc/${child.pid ?? 0}/stat`, "utf8");
  // The fields after the command name (which may hold spaces) in parentheses: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

/** USER_HZ: 100 on Linux (getconf CLK_TCK). */
const CLOCK_TICKS_PER_S = 100;
