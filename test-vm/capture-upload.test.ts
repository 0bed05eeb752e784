// Capture and resumable upload on the host, against a real server (seed 003): the agent's capture code
// images a disk file and uploads it in chunks; the server verifies it before it is visible and keeps one
// image per recipe and configuration. Faults: a server killed with SIGKILL mid-upload, a chunk corrupted
// on the wire, two machines capturing at once, and an image store that runs out of space.
import { execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ImageList, UploadState, type UploadStart } from "../protocol/index.js";
import { captureAndUpload } from "../agent/installer/capture.js";
import { streamImage } from "../agent/installer/stream-image.js";
import type { RunningServer } from "../server/server.js";
import {
  TEST_ADMIN_TOKEN,
  OPERATOR,
  freePort,
  makeTempDir,
  spawnServerProcess,
  startApiServer,
} from "../server/test-support.js";
import { REPO_ROOT } from "./paths.js";

process.env.BOOTWRIGHT_NODE_MODULES = join(REPO_ROOT, "node_modules");

const DISK_BYTES = 40 << 20;
let work: { dir: string; remove: () => void };
let disk: string;
let diskBytes: Buffer;
/** A disk of its own (different bytes): the store is content-addressed, one name per content. */
function freshDisk(name: string): string {
  const path = join(work.dir, name);
  makeDisk(path);
  return path;
}

/** Half noise (incompressible), half pattern: like a real root filesystem, it compresses some. */
function makeDisk(path: string): Buffer {
  const bytes = Buffer.concat([randomBytes(DISK_BYTES / 2), Buffer.alloc(DISK_BYTES / 2, "bootwright ")]);
  writeFileSync(path, bytes);
  return bytes;
}

function startBody(fingerprintByte: string, machine: string): UploadStart {
  return {
    name: `captured-${fingerprintByte}`,
    format: "raw.zst",
    origin: {
      recipe: "web",
      fingerprint: `sha256:${fingerprintByte.repeat(64)}`,
      sourceMachine: machine,
      inventorySummary: { product: "X1", disks: 1 },
    },
  };
}

beforeAll(() => {
  work = makeTempDir("bootwright-capture-");
  disk = join(work.dir, "disk.img");
  diskBytes = makeDisk(disk);
});

afterAll(() => {
  work.remove();
});

describe("in-process server", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startApiServer(join(work.dir, "server"));
  });

  afterAll(async () => {
    await server.close();
  });

  it("captures, uploads, verifies; the image carries its origin and installs byte-identical", async () => {
    const result = await captureAndUpload({
      credential: TEST_ADMIN_TOKEN,
      serverUrl: server.url,
      device: disk,
      bytes: DISK_BYTES,
      start: startBody("a", "machine-1"),
      signal: AbortSignal.timeout(60_000),
      chunkBytes: 4 << 20,
    });
    if (result.kind !== "uploaded")
      throw new Error(`expected an upload, got ${result.kind}: ${result.reason}`);
    expect(result.duplicate).toBe(false);
    expect(result.image.rawBytes).toBe(DISK_BYTES);
    expect(result.image.origin).toMatchObject({
      recipe: "web",
      sourceMachine: "machine-1",
      fingerprint: `sha256:${"a".repeat(64)}`,
    });
    const listed = ImageList.parse(
      await (await fetch(`${server.url}/v1/images`, { headers: OPERATOR })).json(),
    );
    expect(listed.images.map((i) => i.name)).toEqual(["captured-a"]);

    const target = join(work.dir, "reinstalled.img");
    writeFileSync(target, "");
    truncateSync(target, DISK_BYTES);
    await streamImage({
      headers: OPERATOR,
      url: `${server.url}/v1/images/${result.image.sha256}/blob`,
      source: result.image,
      target,
      signal: AbortSignal.timeout(60_000),
    });
    expect(readFileSync(target).equals(diskBytes)).toBe(true);

    // The next capture of that recipe and configuration sends nothing: the image is there.
    const again = await captureAndUpload({
      credential: TEST_ADMIN_TOKEN,
      serverUrl: server.url,
      device: disk,
      bytes: DISK_BYTES,
      start: startBody("a", "machine-2"),
      signal: AbortSignal.timeout(60_000),
    });
    expect(again).toMatchObject({ kind: "skipped", image: result.image.sha256 });
  });

  it("two machines of one configuration capturing at once yield one image", async () => {
    const shared = freshDisk("disk-b.img");
    const [one, two] = await Promise.all(
      ["machine-3", "machine-4"].map((machine) =>
        captureAndUpload({
          credential: TEST_ADMIN_TOKEN,
          serverUrl: server.url,
          device: shared,
          bytes: DISK_BYTES,
          start: startBody("b", machine),
          signal: AbortSignal.timeout(60_000),
        }),
      ),
    );
    const kinds = [one?.kind, two?.kind].sort();
    expect(kinds).toEqual(["skipped", "uploaded"]);
    const skipped = one?.kind === "skipped" ? one : two;
    expect(skipped?.kind === "skipped" ? skipped.reason : "").toMatch(
      /is capturing recipe web for this configuration/,
    );
    const listed = ImageList.parse(
      await (await fetch(`${server.url}/v1/images`, { headers: OPERATOR })).json(),
    );
    expect(listed.images.filter((i) => i.name === "captured-b")).toHaveLength(1);
  });

  it("a chunk corrupted on the wire is refused and sent again", async () => {
    // A proxy that flips one byte of the first chunk it forwards: the network, misbehaving once.
    let flipped = 0;
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        if (req.method === "PUT" && flipped === 0 && body.length > 100) {
          body[50] = (body[50] ?? 0) ^ 0xff;
          flipped += 1;
        }
        const upstream = new URL(req.url ?? "/", server.url);
        const forward = request(
          upstream,
          { method: req.method, headers: { ...req.headers, "content-length": body.length } },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        forward.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const retries: string[] = [];
      const result = await captureAndUpload({
        credential: TEST_ADMIN_TOKEN,
        serverUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        device: freshDisk("disk-c.img"),
        bytes: DISK_BYTES,
        start: startBody("c", "machine-5"),
        signal: AbortSignal.timeout(60_000),
        chunkBytes: 4 << 20,
        onRetry: (_offset, reason) => retries.push(reason),
      });
      expect(flipped).toBe(1);
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatch(/image_invalid: chunk at 0 .* has sha256 [0-9a-f]{64}, not the/);
      if (result.kind !== "uploaded") throw new Error(result.reason);
      expect(result.image.rawBytes).toBe(DISK_BYTES);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe("server killed with SIGKILL mid-upload", () => {
  let child: ChildProcess | undefined;

  afterEach(() => {
    child?.kill("SIGKILL");
  });

  it("the upload resumes from the last acknowledged chunk and the image is byte-identical", async () => {
    const dataDir = join(work.dir, "killed");
    const port = await freePort();
    child = await spawnServerProcess(dataDir, port);
    const url = `http://127.0.0.1:${port}`;
    let restarted: Promise<ChildProcess> | undefined;
    const retries: string[] = [];
    const result = await captureAndUpload({
      credential: TEST_ADMIN_TOKEN,
      serverUrl: url,
      device: disk,
      bytes: DISK_BYTES,
      start: startBody("d", "machine-6"),
      signal: AbortSignal.timeout(120_000),
      chunkBytes: 2 << 20,
      onProgress: (p) => {
        // After the second acknowledged chunk: kill the server, start it again on the same data.
        if (!restarted && p.uploadedBytes >= 4 << 20) {
          child?.kill("SIGKILL");
          restarted = spawnServerProcess(dataDir, port);
        }
      },
      onRetry: (offset, reason) => retries.push(`${offset}: ${reason}`),
    });
    if (restarted) child = await restarted;
    expect(retries.length).toBeGreaterThan(0);
    if (result.kind !== "uploaded") throw new Error(result.reason);
    const target = join(work.dir, "after-kill.img");
    writeFileSync(target, "");
    truncateSync(target, DISK_BYTES);
    await streamImage({
      headers: OPERATOR,
      url: `${url}/v1/images/${result.image.sha256}/blob`,
      source: result.image,
      target,
      signal: AbortSignal.timeout(60_000),
    });
    expect(readFileSync(target).equals(diskBytes)).toBe(true);
  });
});

describe("an image store that runs out of space", () => {
  let small = "";
  let server: RunningServer | undefined;

  afterEach(async () => {
    await server?.close();
    if (small) execFileSync("umount", [small]);
  });

  it("refuses with a clear error, lists no partial image, and the upload can resume", async () => {
    small = join(work.dir, "small-store");
    mkdirSync(small, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=12m", "tmpfs", small]);
    server = await startApiServer(small);
    const failure = captureAndUpload({
      credential: TEST_ADMIN_TOKEN,
      serverUrl: server.url,
      device: freshDisk("disk-e.img"),
      bytes: DISK_BYTES,
      start: startBody("e", "machine-7"),
      signal: AbortSignal.timeout(60_000),
      chunkBytes: 4 << 20,
    });
    await expect(failure).rejects.toThrow(
      /HTTP 507 insufficient_storage: the (image store|server's data directory) is full/,
    );
    expect(
      ImageList.parse(await (await fetch(`${server.url}/v1/images`, { headers: OPERATOR })).json()).images,
    ).toEqual([]);
    expect(readdirSync(join(small, "images/sha256"))).toEqual([]);
    // The upload is still open where it stood: the machine can resume once there is room.
    const [upload] = readdirSync(join(small, "images/uploads"));
    const state = UploadState.parse(
      await (await fetch(`${server.url}/v1/uploads/${upload ?? ""}`, { headers: OPERATOR })).json(),
    );
    expect(state).toMatchObject({ state: "open" });
    expect(state.received).toBeGreaterThan(0);
  });
});
