// cli.* and package.* figures: how fast `bootwright --help` answers from the bundle (dist/), against the
// same command through tsx from the sources (what bin/bootwright ran before dist/ existed); and the size
// of the Debian package as `npm run package` builds it, with what takes the room.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildDist, DIST_DIR } from "../build-scripts/build-dist.js";
import { buildDeb } from "../build-scripts/package/build-deb.js";
import { median, type Figure } from "./figures.js";

const ROOT = resolve(import.meta.dirname, "..");
const RUNS = 10;

function timedRuns(cmd: string, args: string[], runs: number): number[] {
  execFileSync(cmd, args, { stdio: "ignore" }); // the page cache warm, as an operator's second call finds it
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    execFileSync(cmd, args, { stdio: "ignore" });
    times.push(performance.now() - started);
  }
  return times;
}

export async function cliFigures(): Promise<Figure[]> {
  await buildDist();
  const ours = median(timedRuns(process.execPath, [join(DIST_DIR, "cli.mjs"), "--help"], RUNS));
  const sources = median(
    timedRuns(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "server/cli/main.ts"), "--help"], 3),
  );
  const bare = median(timedRuns(process.execPath, ["-e", "0"], RUNS));
  return [
    {
      id: "cli.start_ms",
      value: Number(ours.toFixed(0)),
      unit: "ms",
      ours: Number(ours.toFixed(0)),
      baseline: Number(sources.toFixed(0)),
      baseline_is: "the same --help through tsx from the TypeScript sources (median of 3)",
      note: `median of ${RUNS}; node dist/cli.mjs --help (the server's modules load only for \`server\`); node -e 0 alone: ${bare.toFixed(0)} ms; goal ≤ 200`,
    },
  ];
}

/** Installed bytes of the package's parts, from its file list. */
function breakdown(deb: string): string {
  const parts: [string, RegExp][] = [
    ["Node runtime", /^\.\/usr\/lib\/bootwright\/bin\/node$/],
    ["initramfs", /^\.\/usr\/lib\/bootwright\/build\/initramfs\.img$/],
    ["kernel", /^\.\/usr\/lib\/bootwright\/build\/kernel\//],
    ["node_modules", /^\.\/usr\/lib\/bootwright\/node_modules\//],
    ["dist", /^\.\/usr\/lib\/bootwright\/dist\//],
  ];
  const sums = new Map<string, number>(parts.map(([name]) => [name, 0]));
  let other = 0;
  for (const line of execFileSync("dpkg-deb", ["--contents", deb]).toString().split("\n")) {
    const fields = line.trim().split(/\s+/);
    const size = Number(fields[2]);
    const path = fields[5];
    if (!path || !Number.isFinite(size)) continue;
    const part = parts.find(([, re]) => re.test(path))?.[0];
    if (part) sums.set(part, (sums.get(part) ?? 0) + size);
    else other += size;
  }
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  return [...sums.entries(), ["other (agent sources, templates, docs)", other] as const]
    .map(([name, bytes]) => `${name} ${mb(bytes)}`)
    .join(", ");
}

export async function packageFigures(): Promise<Figure[]> {
  const out = mkdtempSync(join(tmpdir(), "bootwright-bench-package-"));
  try {
    const started = performance.now();
    const built = await buildDeb({ outDir: out });
    const seconds = (performance.now() - started) / 1000;
    return [
      {
        id: "package.size_mb",
        value: Number((built.sizeBytes / 1e6).toFixed(1)),
        unit: "MB",
        note: `the .deb, xz; installed ${(built.installedKiB / 1024).toFixed(0)} MiB, MB by part: ${breakdown(built.path)}; built in ${seconds.toFixed(0)} s`,
      },
    ];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
