// relay.uplink_reads_per_image: 8 agent processes (the VMs' streamImage, writing to files) behind one
// nginx relay (`bootwright relay config`) stream the same image from three servers on PostgreSQL at once;
// the uplink bytes the relay fetched from the servers for it (its access log: cache MISS slices) ÷ the
// image's size. Three images, the median. Goal 1.0: the rack reads each image across the uplink once.
import { randomBytes } from "node:crypto";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compress } from "zstd-napi";
import { uploadImage } from "../server/cli/image-commands.js";
import { startTestCluster } from "../server/cluster/test-cluster.js";
import { startLocalRelay, uplinkReads } from "../server/relay/local-relay.js";
import { runStreamAgent, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { median, type Figure } from "./figures.js";

const MACHINES = 8;
const RAW_MIB = 32;
const RUNS = 3;

export async function relayFigures(): Promise<Figure[]> {
  const cluster = await startTestCluster(3, {});
  try {
    const relay = await startLocalRelay(cluster.servers.map((s) => s.url));
    try {
      const ratios: number[] = [];
      const seconds: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const packed = join(cluster.dir, `bench-${run}.raw.zst`);
        writeFileSync(packed, compress(randomBytes(RAW_MIB << 20), { compressionLevel: 1 }));
        const { image } = await uploadImage(
          relay.url,
          packed,
          { name: `bench-${run}`, format: "raw.zst", purpose: "os" },
          TEST_ADMIN_TOKEN,
        );
        const started = performance.now();
        await Promise.all(
          Array.from({ length: MACHINES }, (_, i) => {
            const target = join(cluster.dir, `target-${run}-${i}.img`);
            writeFileSync(target, Buffer.alloc(0));
            truncateSync(target, (RAW_MIB + 4) << 20);
            return runStreamAgent(relay.url, image.sha256, target, `bench-${run}-${i}`);
          }),
        );
        seconds.push((performance.now() - started) / 1000);
        const reads = uplinkReads(relay.accessLog(), image.sha256);
        const bytes = [...reads.values()].reduce((sum, r) => sum + r.bytes, 0);
        ratios.push(bytes / image.sizeBytes);
      }
      return [
        {
          id: "relay.uplink_reads_per_image",
          value: Number(median(ratios).toFixed(4)),
          unit: "ratio",
          note: `${MACHINES} agent processes, ${RAW_MIB} MiB image, 3 servers + PostgreSQL behind one nginx relay; slices' response headers included; all ${MACHINES} done in ${median(seconds).toFixed(1)} s (median of ${RUNS}); goal 1.0`,
        },
      ];
    } finally {
      await relay.stop();
    }
  } finally {
    await cluster.stop();
  }
}
