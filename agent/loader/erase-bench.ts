// For `npm run bench` (erase.*): in the same VM, on the same disk, times our full erase's write (zeros at
// streaming speed) against `dd if=/dev/zero bs=4M oflag=direct`, alternating, and our quick erase of two
// disks that carry a filesystem; prints one line the bench parses. No server: nothing is enrolled.
import { TOOLS } from "../installer/tools.js";
import { readDisks } from "../inventory/disks.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";
import { quickErase, zeroDisk, type EraseContext } from "./erase.js";

export async function benchErase(runs: number): Promise<void> {
  const ctx: EraseContext = { root: "/", signal: AbortSignal.timeout(1_800_000), progress: () => undefined };
  const disks = await readDisks("/");
  const [first, second] = disks;
  if (!first || !second) throw new Error("bench-erase needs two disks");
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < runs; i++) {
    let started = performance.now();
    await zeroDisk(first.name, `/dev/${first.name}`, first.sizeBytes, ctx);
    ours.push((performance.now() - started) / 1000);
    started = performance.now();
    const count = Math.ceil(first.sizeBytes / (4 * 2 ** 20));
    await run("dd", ["if=/dev/zero", `of=/dev/${first.name}`, "bs=4M", `count=${count}`, "oflag=direct"], {
      timeoutMs: 1_800_000,
    });
    baseline.push((performance.now() - started) / 1000);
  }
  const quick: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const disk of [first, second])
      await run(TOOLS.mke2fs.path, ["-q", "-F", "-t", "ext4", `/dev/${disk.name}`], { timeoutMs: 120_000 });
    const started = performance.now();
    for (const disk of [first, second]) await quickErase(disk.name, `/dev/${disk.name}`, disk.sizeBytes, ctx);
    quick.push((performance.now() - started) / 1000);
  }
  const seconds = (values: number[]): string => values.map((v) => v.toFixed(2)).join(",");
  say("ok", "bench-erase", {
    bytes: first.sizeBytes,
    oursS: seconds(ours),
    baselineS: seconds(baseline),
    quickS: seconds(quick),
  });
}
