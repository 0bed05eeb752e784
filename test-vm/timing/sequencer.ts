// Orders the suite's files longest first, so the two workers finish together: a long VM file started
// last would run alone at the end while the other worker idles (longest-processing-time scheduling).
// The expected seconds come from this machine's last run (build/test-timing.json), else from the
// committed figures of a reference run (expected-seconds.json), else a guess by project. While the
// Debian OS image is not built yet (a fresh machine: build-scripts/test.sh builds it in the background,
// a few minutes), the files that say they need it start only after each worker has taken one other
// file: their wait on the image overlaps that work, and the longest of them still start early (a fresh
// CI run that put them after every other file ran 637 s before starting them, the image ready at 135 s).
import { existsSync, readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { osImagePaths } from "../../build-scripts/build-os-image.js";
import { REPO_ROOT } from "../paths.js";
import { SUITE_TIMING_PATH } from "./files.js";

/** The line a test file carries when it needs the Debian image (see install.test.ts). */
const NEEDS_DEBIAN = "// Needs the debian image";

const COMMITTED = resolve(import.meta.dirname, "expected-seconds.json");
/** A file no run has timed yet: VM files take about a minute, unit files about a second. */
const GUESS_SECONDS: Record<string, number> = { vm: 60, unit: 1 };

function lastRun(): Map<string, number> {
  const seconds = new Map<string, number>();
  for (const path of [COMMITTED, SUITE_TIMING_PATH]) {
    if (!existsSync(path)) continue;
    try {
      const parsed = JSON.parse(readFileSync(path, "utf8")) as {
        files?: { file: string; seconds: number }[];
      };
      // The machine's own last run, read second, wins over the committed reference.
      for (const f of parsed.files ?? []) seconds.set(f.file, f.seconds);
    } catch {
      // A damaged timing file only costs the ordering.
    }
  }
  return seconds;
}

function waitsForDebian(spec: TestSpecification): boolean {
  try {
    return readFileSync(spec.moduleId, "utf8").includes(NEEDS_DEBIAN);
  } catch {
    return false;
  }
}

export class LongestFirstSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = lastRun();
    const expected = (spec: TestSpecification): number =>
      seconds.get(relative(REPO_ROOT, spec.moduleId)) ?? GUESS_SECONDS[spec.project.name] ?? 1;
    const longestFirst = [...files].sort((a, b) => expected(b) - expected(a));
    if (existsSync(osImagePaths("debian").zst)) return Promise.resolve(longestFirst);
    const waiting = longestFirst.filter(waitsForDebian);
    const others = longestFirst.filter((spec) => !waitsForDebian(spec));
    const workers = Math.max(1, this.ctx.config.maxWorkers);
    return Promise.resolve([...others.slice(0, workers), ...waiting, ...others.slice(workers)]);
  }
}
