// Writes the plan's whole-disk image (raw.zst) to the target and leaves the marker the installed OS
// reads to call home (seed 002 claims 3-6): check the target before any write, stream and verify,
// then write the marker into the image's bootwright-marker partition.
import { credentialHeaders } from "../../shared/credential.js";
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { imageBlobPath, type ImageSource } from "../../../protocol/index.js";
import { forgetCachedPages, installTarget, type BlockTarget } from "../block-device.js";
import { MARKER_PARTITION_NAME } from "../../inventory/marker.js";
import { readGpt } from "../gpt.js";
import type { InstallerPlugin, StepContext } from "../plugin.js";
import { imageStreamProbe } from "../probes/image-stream.js";
import { streamImage } from "../stream-image.js";

const MARKER_BYTES = 4096;

function sourceOf(ctx: StepContext): ImageSource {
  const source = ctx.plan.imageSource;
  if (!source) throw new Error(`image ${ctx.plan.image} is not in the server's image store`);
  return source;
}

/** The RAID array when the plan has one, else the machine's first disk. */
function findTarget(ctx: StepContext): Promise<BlockTarget> {
  return installTarget(ctx.root, ctx.plan);
}

function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

const READ_CHUNK = 4 * 2 ** 20;

/** sha256 of the first `bytes` of the device. */
async function hashExtent(path: string, bytes: number, signal: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(READ_CHUNK);
    for (let offset = 0; offset < bytes;) {
      signal.throwIfAborted();
      const want = Math.min(READ_CHUNK, bytes - offset);
      const { bytesRead } = await handle.read(buffer, 0, want, offset);
      if (bytesRead === 0)
        throw new Error(`${path}: ended at ${offset} of ${bytes} bytes while reading back`);
      hash.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

export const imageStream: InstallerPlugin = {
  ...imageStreamProbe,
  steps: [
    {
      // Before any write: the whole image must fit.
      name: "check-target",
      run: async (ctx) => {
        const source = sourceOf(ctx);
        const target = await findTarget(ctx);
        if (target.sizeBytes < source.rawBytes)
          throw new Error(
            `target ${target.name} is ${formatBytes(target.sizeBytes)} but image ${ctx.plan.image} needs ${formatBytes(source.rawBytes)}: nothing was written`,
          );
        ctx.progress("target checked", {
          target: target.name,
          sizeBytes: target.sizeBytes,
          imageBytes: source.rawBytes,
        });
        return { target: target.name, targetBytes: target.sizeBytes, imageRawBytes: source.rawBytes };
      },
    },
    {
      name: "stream",
      run: async (ctx) => {
        const source = sourceOf(ctx);
        const target = await findTarget(ctx);
        const url = `${ctx.machine.serverUrl}${imageBlobPath(source.sha256)}?machine=${encodeURIComponent(ctx.machine.id)}`;
        ctx.progress("image transfer", {
          image: ctx.plan.image,
          bytes: source.sizeBytes,
          target: target.name,
        });
        const result = await streamImage({
          url,
          file: ctx.plan.imageFile,
          headers: credentialHeaders(ctx.machine),
          source,
          target: target.path,
          signal: ctx.signal,
          onProgress: (p) => {
            ctx.progress("image progress", {
              bytes: p.bytes,
              totalBytes: p.totalBytes,
              percent: p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 100) : 100,
              rawBytes: p.rawBytes,
              rateMBs: p.rateMBs,
            });
          },
          onResume: (atBytes, reason) => {
            ctx.progress("image transfer interrupted: resuming with Range", { atBytes, reason });
          },
        });
        return { ...result, target: target.name };
      },
    },
    {
      // Read what was written back from the disk (past the page cache) and compare its sha256 with the
      // image's: an imager that wrote wrong bytes and reported success is caught here (FOG#1742).
      name: "read-back",
      run: async (ctx) => {
        if (ctx.plan.verify !== "readback")
          return { skipped: true, reason: "the plan does not ask for verify: readback" };
        const source = sourceOf(ctx);
        const target = await findTarget(ctx);
        await forgetCachedPages(target, ctx.exec, ctx.signal);
        const started = performance.now();
        const sha256 = await hashExtent(target.path, source.rawBytes, ctx.signal);
        const seconds = (performance.now() - started) / 1000;
        const figures = {
          image: ctx.plan.image,
          bytes: source.rawBytes,
          sha256,
          expectedSha256: source.rawSha256,
          matches: sha256 === source.rawSha256,
          rateMBs: seconds > 0 ? Number((source.rawBytes / 1e6 / seconds).toFixed(1)) : 0,
        };
        ctx.progress("read back", figures);
        if (!figures.matches)
          throw new Error(
            `read-back of ${target.name}: the first ${source.rawBytes} bytes have sha256 ${sha256}, the image ${source.rawSha256}: the disk does not hold the image`,
          );
        return figures;
      },
    },
    {
      // The marker: what is installed and where to call home, read by the installed OS and the loader.
      name: "write-marker",
      run: async (ctx) => {
        const source = sourceOf(ctx);
        const target = await findTarget(ctx);
        const partition = (await readGpt(target.path, target.sectorBytes)).find(
          (p) => p.name === MARKER_PARTITION_NAME,
        );
        if (!partition)
          throw new Error(
            `image ${ctx.plan.image} has no GPT partition named ${MARKER_PARTITION_NAME}: the installed system could not call home`,
          );
        const marker = JSON.stringify({
          image: `sha256:${source.sha256}`,
          planHash: ctx.plan.planHash,
          machineId: ctx.machine.id,
          // Offline media without a server: no server to call home to.
          ...(ctx.machine.serverUrl ? { server: ctx.machine.serverUrl } : {}),
          ...(ctx.machine.osCredential ? { credential: ctx.machine.osCredential } : {}),
        });
        // The marker's block, then (under TLS) the pinned CA's PEM in the next one: the OS's call home
        // trusts that CA alone (build-scripts/os-image/callhome.sh).
        const block = Buffer.alloc(ctx.machine.caPem ? 2 * MARKER_BYTES : MARKER_BYTES);
        block.write(marker, "utf8");
        if (ctx.machine.caPem) block.write(ctx.machine.caPem, MARKER_BYTES, "utf8");
        const offset = Number(partition.firstLba) * target.sectorBytes;
        const handle = await open(target.path, "r+");
        try {
          await handle.write(block, 0, block.length, offset);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return { partition: partition.index, offset, marker };
      },
    },
  ],
};
