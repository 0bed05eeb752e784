import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AgentPlan, BootAreaRecord } from "../../../protocol/index.js";
import { fakeRoot, makeGptDisk, type TestDisk } from "../maintenance/test-disk.js";
import type { StepContext } from "../plugin.js";
import { refuseAll, stepContext, TEST_INVENTORY } from "../test-support.js";
import { bootArea } from "./boot-area.js";

const plan: AgentPlan = {
  planHash: "sha256:plan",
  image: "tiny",
  imageSource: {
    sha256: "a".repeat(64),
    format: "raw.zst",
    sizeBytes: 1,
    rawBytes: 1,
    rawSha256: "b".repeat(64),
  },
};

interface Received {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let dir: string;
let root: string;
let disk: TestDisk;
let server: Server;
let serverUrl: string;
let received: Received[];
/** Status codes to answer, in order; then 200 with the record. */
let failures: { status: number; body: unknown }[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-boot-area-plugin-"));
  disk = makeGptDisk(dir, { sizeMiB: 16, root: false });
  root = join(dir, "root");
  fakeRoot(root, disk, "vda");
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const body = Buffer.concat(chunks);
      received.push({ method: req.method ?? "", url, headers: req.headers, body });
      const failure = failures.shift();
      res.setHeader("content-type", "application/json");
      if (failure) {
        res.statusCode = failure.status;
        res.end(JSON.stringify(failure.body));
        return;
      }
      const q = url.searchParams;
      const record: BootAreaRecord = {
        device: q.get("device") ?? "",
        diskBytes: Number(q.get("diskBytes")),
        sectorBytes: Number(q.get("sectorBytes")),
        headBytes: Number(q.get("headBytes")),
        tailBytes: Number(q.get("tailBytes")),
        sha256: createHash("sha256").update(body).digest("hex"),
        image: q.get("image") ?? "",
        planHash: q.get("planHash") ?? "",
        recordedAt: "2026-01-01T00:00:00.000Z",
      };
      res.end(JSON.stringify(record));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  received = [];
  failures = [];
});

function context(p: AgentPlan = plan, progress: string[] = []): StepContext {
  return {
    ...stepContext(root, p, refuseAll, progress),
    machine: { id: "m-1", serverUrl, credential: "bwm_test" },
  };
}

const record = bootArea.steps[0];

describe("boot-area plugin", () => {
  it("applies to whole-disk images only", () => {
    expect(bootArea.probe(TEST_INVENTORY, plan)).toBe("generic");
    const source = plan.imageSource;
    if (!source) throw new Error("the test plan has an image source");
    const tar: AgentPlan = { ...plan, imageSource: { ...source, format: "tar.zst" } };
    expect(bootArea.probe(TEST_INVENTORY, tar)).toBe("none");
  });

  it("uploads the head (up to the first partition) and the backup GPT with their sha256", async () => {
    const result = await record?.run(context());
    const image = readFileSync(disk.path);
    const head = image.subarray(0, 2 ** 20);
    const tail = image.subarray(image.length - 33 * 512);
    const sha256 = createHash("sha256")
      .update(Buffer.concat([head, tail]))
      .digest("hex");
    expect(result).toEqual({ device: "vda", headBytes: 2 ** 20, tailBytes: 33 * 512, sha256, attempts: 1 });
    expect(received).toHaveLength(1);
    const [put] = received;
    expect(put?.method).toBe("PUT");
    expect(put?.url.pathname).toBe("/v1/machines/m-1/boot-area");
    expect(Object.fromEntries(put?.url.searchParams ?? [])).toEqual({
      device: "vda",
      diskBytes: String(disk.sizeBytes),
      sectorBytes: "512",
      headBytes: String(2 ** 20),
      tailBytes: String(33 * 512),
      image: `sha256:${"a".repeat(64)}`,
      planHash: "sha256:plan",
    });
    expect(put?.headers["x-bootwright-sha256"]).toBe(sha256);
    expect(put?.headers["content-type"]).toBe("application/octet-stream");
    expect(put?.body.equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it("retries a failed upload with backoff", async () => {
    failures = [{ status: 503, body: { code: "internal", message: "busy" } }];
    const progress: string[] = [];
    const result = await record?.run(context(plan, progress));
    expect(result).toMatchObject({ attempts: 2 });
    expect(received).toHaveLength(2);
    expect(progress).toContain("boot area upload failed: retrying");
  });

  it("does not retry what the server refused, and says why", async () => {
    failures = [{ status: 422, body: { code: "boot_area_invalid", message: "sizes do not add up" } }];
    await expect(record?.run(context())).rejects.toThrow(
      /^boot area of vda not recorded after 1 try: PUT .* HTTP 422 boot_area_invalid: sizes do not add up/,
    );
    expect(received).toHaveLength(1);
  });

  it("skips a RAID plan, saying why", async () => {
    const result = await record?.run(context({ ...plan, raid: { level: 1, disks: 2 } }));
    expect(result?.skipped).toMatch(/RAID/);
    expect(received).toHaveLength(0);
  });
});
