// For `npm run bench` (install.stream_vs_pipeline): in the same VM, on the same image and disk, times our
// install stream (undici → zstd-napi → the block device, both sha256s checked) against the baseline
// `wget -O- | zstd -d | dd`, alternating so both see the same caches, and prints one line the bench parses.
// The machine enrolls first: the image's bytes are a machine's route, under its credential.
import { imageBlobPath, type ImageSource, type Inventory } from "../../protocol/index.js";
import { streamImage } from "../installer/stream-image.js";
import { credentialHeaders } from "../shared/credential.js";
import { say } from "./console.js";
import { run } from "../shared/run-command.js";
import { postInventory } from "./server-client.js";

export async function benchInstall(
  serverUrl: string,
  image: ImageSource,
  inventory: Inventory,
  runs: number,
  device: string,
): Promise<void> {
  const enrolled = await postInventory(serverUrl, inventory);
  const headers = credentialHeaders(enrolled);
  const url = `${serverUrl}${imageBlobPath(image.sha256)}`;
  const ours: number[] = [];
  const baseline: number[] = [];
  const stages: string[] = [];
  for (let i = 0; i < runs; i++) {
    let started = performance.now();
    // The main thread's busy share (HTTP parsing and stream machinery included, which the stages do not
    // time) and the process's CPU on all threads: whether the stream waits for the network or for a CPU.
    const loop = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const result = await streamImage({
      url,
      headers,
      source: image,
      target: device,
      signal: AbortSignal.timeout(600_000),
    });
    ours.push((performance.now() - started) / 1000);
    const busy = Math.round(performance.eventLoopUtilization(loop).utilization * 100);
    const { user, system } = process.cpuUsage(cpu);
    const s = (ms: number): string => (ms / 1000).toFixed(1);
    const { hashMs, hashWaitMs, decodeMs, writeWaitMs, chunks, writes, directWrites } = result.stages;
    stages.push(
      `hash:${s(hashMs)}/hashwait:${s(hashWaitMs)}/decode:${s(decodeMs)}/diskwait:${s(writeWaitMs)}/mainbusy:${busy}%/cpu:${s((user + system) / 1000)}/chunks:${chunks}/direct:${directWrites}of${writes}`,
    );
    started = performance.now();
    // conv=fsync: the baseline also ends with its data on the disk, as ours does (FileHandle.sync). The
    // credential is in wget's argv here: a benchmark VM's own, revoked at its next enrollment.
    await run(
      "sh",
      [
        "-c",
        `wget -q --header 'Authorization: ${headers.authorization}' -O - '${url}' | zstd -d -q -c | dd of=${device} bs=1M conv=fsync 2>/dev/null`,
      ],
      { timeoutMs: 600_000 },
    );
    baseline.push((performance.now() - started) / 1000);
  }
  const seconds = (values: number[]): string => values.map((v) => v.toFixed(2)).join(",");
  say("ok", "bench-install", {
    rawBytes: image.rawBytes,
    oursS: seconds(ours),
    baselineS: seconds(baseline),
    oursStagesS: stages.join(","),
  });
}
