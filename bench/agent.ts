// agent.* figures: tailored agent build time cold (fresh builder: source hash + esbuild) and cached, and
// a tailored bundle's size against a bundle with every plugin.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PLUGINS } from "../agent/installer/registry.js";
import type { AgentPlan } from "../protocol/index.js";
import { AgentBuilder } from "../server/agent-builder.js";
import { sampleInventory } from "../server/test-support.js";
import { median, type Figure } from "./figures.js";

const RUNS = 5;

export async function agentFigures(): Promise<Figure[]> {
  const plan: AgentPlan = {
    planHash: "sha256:bench",
    image: "debian-12",
    raid: { level: 1, disks: 2 },
    uefi: { bootOrder: "disk-first" },
  };
  const inventory = sampleInventory({ disks: [{ name: "vda", sizeBytes: 2 ** 30 }] });
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-agent-"));
  try {
    const cold: number[] = [];
    const cached: number[] = [];
    let tailoredBytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const builder = new AgentBuilder(join(dir, `run-${i}`));
      let started = performance.now();
      tailoredBytes = (await builder.build(inventory, plan)).sizeBytes;
      cold.push(performance.now() - started);
      started = performance.now();
      const again = await builder.build(inventory, plan);
      cached.push(performance.now() - started);
      if (!again.cached) throw new Error("second build was not served from the cache");
    }
    const full = await new AgentBuilder(join(dir, "full")).buildFor(
      PLUGINS.map(({ plugin }) => plugin.name),
      plan,
    );
    const round = (n: number): number => Number(n.toFixed(2));
    return [
      {
        id: "agent.build_cold_ms",
        value: round(median(cold)),
        unit: "ms",
        note: `median of ${RUNS}; fresh builder (hashes agent/ + protocol/ sources, then esbuild); goal ≤ 300`,
      },
      {
        id: "agent.build_cached_ms",
        value: round(median(cached)),
        unit: "ms",
        note: `median of ${RUNS}; same inventory + plan again; goal ≤ 5`,
      },
      {
        id: "agent.tailored_vs_full_size",
        value: round(tailoredBytes / full.sizeBytes),
        unit: "ratio",
        ours: tailoredBytes,
        baseline: full.sizeBytes,
        baseline_is: `bundle with all ${PLUGINS.length} plugins, same plan`,
        note: "one-disk BIOS machine (disk-report only); plugins import protocol types only, so no zod in either",
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
