// factory.wall_4_vs_1 (issue 22): four units through the whole station at once ÷ one unit alone, same
// run, same server. Each unit is a host process (bench/factory-unit.ts) playing its loader and agent
// over the real API, not a VM: under TCG a VM's boot would be most of the time and measure QEMU, not the
// station. What each does for real: enrollment, the burn-in's diagnostic steps (cpu-benchmark for a fixed
// second, memory-test over 64 MiB), the install commands with the tiny image streamed into a file by the
// agent's stream-image code and read back, the call home; the server runs the station's flow for each.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildMaintenanceImage } from "../build-scripts/build-maintenance-image.js";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { uploadImage } from "../server/cli/image-commands.js";
import { jsonRequest, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { REPO_ROOT } from "../test-vm/paths.js";
import { startTestServer } from "../test-vm/test-server.js";
import { bundleForNode } from "./bundle.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const STATION = {
  name: "bench-line",
  image: "tiny",
  burnIn: {
    steps: [
      { name: "cpu-benchmark", params: { seconds: 1 } },
      { name: "memory-test", params: { mib: 64 } },
    ],
    thresholds: [{ step: "memory-test", figure: "mismatches", max: 0 }],
  },
};

/** The unit's program as one ESM file, as the loader runs its agents: no TypeScript compiled per unit. */
function bundleUnit(dir: string): Promise<string> {
  return bundleForNode(join(REPO_ROOT, "bench/factory-unit.ts"), join(dir, "factory-unit.mjs"));
}

function unit(program: string, serverUrl: string, n: number, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, serverUrl, String(n), dir], {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        BOOTWRIGHT_TOKEN: TEST_ADMIN_TOKEN,
        // The agent loads zstd-napi from where the initramfs carries it; on the host, from ours.
        BOOTWRIGHT_NODE_MODULES: join(REPO_ROOT, "node_modules"),
      },
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`factory unit ${n} exited ${String(code)}: ${stderr.slice(-2000)}`));
    });
  });
}

async function timed(body: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await body();
  return (performance.now() - started) / 1000;
}

export async function factoryFigures(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-factory-"));
  // No batch window: a unit that reaches its image first does not wait for the others to join it.
  const server = await startTestServer(dir, 0, { pollIntervalMs: 50, batchWindowMs: 0 });
  try {
    const [tiny, diagnostic] = await Promise.all([
      buildOsImage({ kind: "tiny" }),
      buildMaintenanceImage({ kind: "diagnostic" }),
    ]);
    await uploadImage(
      server.url,
      tiny.paths.zst,
      { name: "tiny", format: "raw.zst", purpose: "os" },
      TEST_ADMIN_TOKEN,
    );
    await uploadImage(
      server.url,
      diagnostic.path,
      { name: "diagnostic", format: "tar.zst", purpose: "diagnostic" },
      TEST_ADMIN_TOKEN,
    );
    const set = await jsonRequest(`${server.url}/v1/factory/station`, "PUT", {
      format: "json",
      source: JSON.stringify(STATION),
    });
    if (set.status !== 200)
      throw new Error(`PUT /v1/factory/station: ${set.status} ${JSON.stringify(set.body)}`);
    const program = await bundleUnit(dir);
    const one: number[] = [];
    const four: number[] = [];
    let next = 1;
    for (let run = 0; run < RUNS; run++) {
      one.push(await timed(() => unit(program, server.url, next++, dir)));
      const ns = [next++, next++, next++, next++];
      four.push(await timed(() => Promise.all(ns.map((n) => unit(program, server.url, n, dir)))));
    }
    const line = (await jsonRequest(`${server.url}/v1/factory/line`, "GET")).body as { passed?: number };
    if (line.passed !== RUNS * 5)
      throw new Error(`expected ${RUNS * 5} units passed, the line says ${JSON.stringify(line)}`);
    const oneS = median(one);
    const fourS = median(four);
    return [
      {
        id: "factory.wall_4_vs_1",
        value: Number((fourS / oneS).toFixed(2)),
        unit: "ratio",
        ours: Number(fourS.toFixed(2)),
        baseline: Number(oneS.toFixed(2)),
        baseline_is: "one unit through the same station alone",
        note: `s, median of ${RUNS}; host processes, not VMs (each: enroll, burn-in cpu-benchmark 1 s + memory-test 64 MiB, install of the tiny image ${(tiny.manifest.rawBytes / 1e6).toFixed(0)} MB streamed to a file and read back, call home); goal ≤ 1.6 on 2 cores`,
      },
    ];
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
