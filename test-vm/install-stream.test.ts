// The install stream on the host, against a real server: the same agent code the VMs run (undici,
// zstd-napi, the image-stream plugin), writing to files instead of block devices. Batching, the
// integrity checks, a server killed mid-transfer, and a target too small.
import { execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { ImageDetail, type AgentPlan, type ImageRecord, type ImageSource } from "../protocol/index.js";
import { parseMarker } from "../agent/inventory/marker.js";
import { readGpt } from "../agent/installer/gpt.js";
import { imageStream } from "../agent/installer/plugins/image-stream.js";
import type { Exec, StepContext } from "../agent/installer/plugin.js";
import { ImageIntegrityError, streamImage } from "../agent/installer/stream-image.js";
import { uploadImage } from "../server/cli/image-commands.js";
import type { RunningServer } from "../server/server.js";
import {
  OPERATOR,
  TEST_ADMIN_TOKEN,
  freePort,
  makeTempDir,
  sampleInventory,
  spawnServerProcess,
  startApiServer,
} from "../server/test-support.js";
import { REPO_ROOT } from "./paths.js";

// The agent finds zstd-napi beside Node in the initramfs; on the host, in our node_modules.
process.env.BOOTWRIGHT_NODE_MODULES = join(REPO_ROOT, "node_modules");

const RAW_MIB = 24;
/** image-stream runs no program: any call is a bug. */
const noPrograms: Exec = (command) => Promise.reject(new Error(`unexpected program run: ${command}`));
let work: { dir: string; remove: () => void };
let raw: Buffer;
let packedPath: string;

/** A GPT disk image: a 1 MiB bootwright-marker partition and a root partition full of varied bytes. */
function makeDiskImage(path: string, mib: number): Buffer {
  writeFileSync(path, Buffer.alloc(0));
  truncateSync(path, mib << 20);
  execFileSync("sfdisk", ["--quiet", path], {
    input: "label: gpt\nsize=1MiB, name=bootwright-marker\nname=root\n",
  });
  const bytes = readFileSync(path);
  for (let i = 2 << 20; i < bytes.length - (1 << 20); i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 18, i);
  writeFileSync(path, bytes);
  return bytes;
}

function sourceOf(image: ImageRecord): ImageSource {
  return {
    sha256: image.sha256,
    format: image.format,
    sizeBytes: image.sizeBytes,
    rawBytes: image.rawBytes,
    rawSha256: image.rawSha256,
  };
}

function emptyTarget(name: string): string {
  const path = join(work.dir, name);
  writeFileSync(path, Buffer.alloc(0));
  truncateSync(path, (RAW_MIB + 8) << 20);
  return path;
}

beforeAll(() => {
  work = makeTempDir("bootwright-stream-");
  raw = makeDiskImage(join(work.dir, "disk.raw"), RAW_MIB);
  packedPath = join(work.dir, "disk.raw.zst");
  writeFileSync(packedPath, compress(raw, { compressionLevel: 3 }));
});

afterAll(() => {
  work.remove();
});

describe("in-process server", () => {
  let server: RunningServer;
  let image: ImageRecord;

  beforeAll(async () => {
    server = await startApiServer(join(work.dir, "server"), { batchWindowMs: 1_500 });
    ({ image } = await uploadImage(
      server.url,
      packedPath,
      {
        name: "disk",
        format: "raw.zst",
        purpose: "os",
      },
      TEST_ADMIN_TOKEN,
    ));
  });

  afterAll(async () => {
    await server.close();
  });

  it("8 machines streaming together are one batch: the store is read once", async () => {
    const before = ImageDetail.parse(
      await (await fetch(`${server.url}/v1/images/disk`, { headers: OPERATOR })).json(),
    ).reads;
    const targets = Array.from({ length: 8 }, (_, i) => emptyTarget(`batch-${i}.img`));
    const results = await Promise.all(
      targets.map((target, i) =>
        streamImage({
          headers: OPERATOR,
          url: `${server.url}/v1/images/${image.sha256}/blob?machine=m-${i}`,
          source: sourceOf(image),
          target,
          signal: AbortSignal.timeout(60_000),
        }),
      ),
    );
    for (const [i, target] of targets.entries()) {
      expect(results[i]?.sha256).toBe(image.sha256);
      expect(readFileSync(target).subarray(0, raw.length).equals(raw)).toBe(true);
    }
    const after = ImageDetail.parse(
      await (await fetch(`${server.url}/v1/images/disk`, { headers: OPERATOR })).json(),
    ).reads;
    expect(after.storeBytesRead - before.storeBytesRead).toBe(image.sizeBytes);
    expect(after.batches - before.batches).toBe(1);
    expect(after.batchedMembers - before.batchedMembers).toBe(8);
    expect(after.bytesSent - before.bytesSent).toBe(8 * image.sizeBytes);
  });

  it("the image-stream plugin checks the target, streams, and writes the marker the installed OS reads", async () => {
    const root = join(work.dir, "root-ok");
    mkdirSync(join(root, "sys/block/vda/queue"), { recursive: true });
    mkdirSync(join(root, "dev"), { recursive: true });
    const target = emptyTarget("root-ok/dev/vda");
    writeFileSync(join(root, "sys/block/vda/size"), `${statSync(target).size / 512}\n`);
    writeFileSync(join(root, "sys/block/vda/queue/logical_block_size"), "512\n");
    const plan: AgentPlan = { planHash: "sha256:plan", image: "disk", imageSource: sourceOf(image) };
    const ctx: StepContext = {
      inventory: sampleInventory(),
      plan,
      machine: { id: "m-plugin", serverUrl: server.url, credential: TEST_ADMIN_TOKEN },
      signal: AbortSignal.timeout(60_000),
      root,
      progress: () => undefined,
      exec: noPrograms,
    };
    const data: Record<string, unknown>[] = [];
    for (const step of imageStream.steps) data.push(await step.run(ctx));
    expect(data[0]).toMatchObject({ target: "vda", imageRawBytes: raw.length });
    expect(data[1]).toMatchObject({ sha256: image.sha256, rawBytes: raw.length, resumes: 0 });

    const written = readFileSync(target);
    const marker = (await readGpt(target)).find((p) => p.name === "bootwright-marker");
    expect(marker).toBeDefined();
    const at = Number(marker?.firstLba ?? 0n) * 512;
    expect(parseMarker(written.subarray(at, at + 4096), "vda1")).toEqual({
      image: `sha256:${image.sha256}`,
      planHash: "sha256:plan",
      machineId: "m-plugin",
      server: server.url,
      partition: "vda1",
    });
    // Outside the marker the disk is the image, byte for byte.
    expect(written.subarray(at + 4096, raw.length).equals(raw.subarray(at + 4096))).toBe(true);
  });

  it("refuses a target smaller than the image before writing anything", async () => {
    const root = join(work.dir, "root-small");
    mkdirSync(join(root, "sys/block/vda"), { recursive: true });
    mkdirSync(join(root, "dev"), { recursive: true });
    const target = join(root, "dev/vda");
    writeFileSync(target, Buffer.alloc(4 << 20, 0xaa));
    writeFileSync(join(root, "sys/block/vda/size"), `${(4 << 20) / 512}\n`);
    const ctx: StepContext = {
      inventory: sampleInventory(),
      plan: { planHash: "sha256:plan", image: "disk", imageSource: sourceOf(image) },
      machine: { id: "m-small", serverUrl: server.url, credential: TEST_ADMIN_TOKEN },
      signal: AbortSignal.timeout(10_000),
      root,
      progress: () => undefined,
      exec: noPrograms,
    };
    await expect(imageStream.steps[0]?.run(ctx)).rejects.toThrow(
      /target vda is 4\.0 MiB but image disk needs 24\.0 MiB: nothing was written/,
    );
    expect(readFileSync(target).equals(Buffer.alloc(4 << 20, 0xaa))).toBe(true);
  });

  it("a flipped byte in the stored image is a sha256 mismatch, never a success", async () => {
    const blob = join(work.dir, "server/images/sha256", image.sha256);
    const original = readFileSync(blob);
    const flipped = Buffer.from(original);
    const middle = Math.floor(flipped.length / 2);
    flipped[middle] = (flipped[middle] ?? 0) ^ 0x01;
    writeFileSync(blob, flipped);
    try {
      const failure = streamImage({
        headers: OPERATOR,
        url: `${server.url}/v1/images/${image.sha256}/blob`,
        source: sourceOf(image),
        target: emptyTarget("flipped.img"),
        signal: AbortSignal.timeout(60_000),
      });
      await expect(failure).rejects.toBeInstanceOf(ImageIntegrityError);
      await expect(failure).rejects.toThrow(/image sha256 mismatch/);
    } finally {
      writeFileSync(blob, original);
    }
  });
});

describe("server killed with SIGKILL mid-transfer", () => {
  let child: ChildProcess | undefined;

  afterEach(() => {
    child?.kill("SIGKILL");
  });

  it("the agent resumes with Range and the disk ends byte-identical to the image", async () => {
    const dataDir = join(work.dir, "killed");
    const port = await freePort();
    child = await spawnServerProcess(dataDir, port);
    const url = `http://127.0.0.1:${port}`;
    // Incompressible and large enough that the kill lands long before the socket buffers hold the rest.
    const big = randomBytes(96 << 20);
    const bigPath = join(work.dir, "big.raw.zst");
    writeFileSync(bigPath, compress(big, { compressionLevel: 1 }));
    const { image } = await uploadImage(
      url,
      bigPath,
      { name: "big", format: "raw.zst", purpose: "os" },
      TEST_ADMIN_TOKEN,
    );
    const target = join(work.dir, "resumed.img");
    writeFileSync(target, Buffer.alloc(0));
    truncateSync(target, big.length);
    let killedAt = -1;
    let restarted: Promise<ChildProcess> | undefined;
    const resumes: string[] = [];
    const result = await streamImage({
      headers: OPERATOR,
      url: `${url}/v1/images/${image.sha256}/blob`,
      source: sourceOf(image),
      target,
      signal: AbortSignal.timeout(120_000),
      progressEveryMs: 5,
      onProgress: (p) => {
        // The first time bytes have arrived but not all: kill the server, start it again on the same data.
        if (killedAt < 0 && p.bytes > 0 && p.bytes < p.totalBytes) {
          killedAt = p.bytes;
          child?.kill("SIGKILL");
          restarted = spawnServerProcess(dataDir, port);
        }
      },
      onResume: (at, reason) => resumes.push(`${at}: ${reason}`),
    });
    if (restarted) child = await restarted;
    expect(killedAt).toBeGreaterThan(0);
    expect(resumes.length).toBeGreaterThan(0);
    expect(result.resumes).toBe(resumes.length);
    expect(result.sha256).toBe(image.sha256);
    expect(readFileSync(target).equals(big)).toBe(true);
  });
});
