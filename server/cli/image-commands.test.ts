// `bootwright image delete` and `bootwright image gc` through the real CLI (bin/bootwright) against a real
// server: a refusal names what holds the image, --force overrides an installed marker, and gc prints the
// bytes it freed (as a line, and as JSON).
import { createHash } from "node:crypto";
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { ImageGcReport } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  SAMPLE_UUID as ID,
  jsonRequest,
  makeTempDir,
  sampleInventory,
  startApiServer,
  TEST_ADMIN_TOKEN,
  runCli,
} from "../test-support.js";
import { uploadImage } from "./image-commands.js";

let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;

/** Runs the CLI; its exit code, stdout and stderr (a refusal is an answer here, not a throw). */
const bootwright = (...args: string[]): ReturnType<typeof runCli> => runCli(server.url, work.dir, args);

async function add(name: string, fill: number): Promise<string> {
  const file = join(work.dir, `${name}.raw.zst`);
  writeFileSync(file, compress(Buffer.alloc(1 << 20, fill)));
  const { image } = await uploadImage(
    server.url,
    file,
    { name, format: "raw.zst", purpose: "os" },
    TEST_ADMIN_TOKEN,
  );
  return image.sha256;
}

beforeAll(async () => {
  work = makeTempDir("bw-image-cli-");
  server = await startApiServer(work.dir);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("bootwright image delete and gc", () => {
  it("names what holds an image, refuses --force for the policy, deletes past a marker with --force", async () => {
    const base = await add("base", 1);
    const policy = { rules: [{ name: "web", match: [], plan: { image: "base" } }] };
    await jsonRequest(`${server.url}/v1/policy`, "PUT", { format: "json", source: JSON.stringify(policy) });
    const refused = await bootwright("image", "delete", "base", "--force");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^bootwright: server answered 409: image base \(sha256:[0-9a-f]{64}\) is still named by: policy web\n$/,
    );

    await jsonRequest(`${server.url}/v1/policy`, "PUT", { format: "json", source: '{"rules":[]}' });
    const inventory = {
      ...sampleInventory(),
      installedMarker: { image: `sha256:${base}`, planHash: "sha256:p", partition: "vda3" },
    };
    expect((await jsonRequest(`${server.url}/v1/inventory`, "POST", inventory)).status).toBe(200);
    const marker = await bootwright("image", "delete", "base");
    expect(marker.stderr).toContain(`installed-marker ${ID} (--force deletes it anyway)`);
    const forced = await bootwright("image", "delete", "base", "--force");
    expect(forced.stdout).toBe(
      `deleted base (sha256:${base}); overrode installed-marker ${ID}; its file is removed\n`,
    );
  });

  it("gc prints the bytes freed and what went, and --json the report", async () => {
    const kept = await add("kept", 2);
    const orphan = createHash("sha256").update("cli-orphan").digest("hex");
    const path = join(work.dir, "images/sha256", orphan);
    writeFileSync(path, Buffer.alloc(2_048, 1));
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(path, old, old);
    const line = await bootwright("image", "gc");
    expect(line.stdout).toBe(
      `freed 2.0 KiB: 1 image file(s), 0 abandoned upload(s)\n  file sha256:${orphan}\n`,
    );
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(work.dir, "images/sha256", kept))).toBe(true);
    const json = ImageGcReport.parse(JSON.parse((await bootwright("image", "gc", "--json")).stdout));
    expect(json).toEqual({ blobs: [], uploads: [], bytesFreed: 0 });
  });
});
