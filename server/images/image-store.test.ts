// The image store over real HTTP and a real SQLite file: an upload is hashed, test-decompressed and
// made visible only whole; a wrong checksum, a truncated stream or non-zstd bytes leave nothing behind.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { ErrorBody, ImageDetail, ImageList } from "../../protocol/index.js";
import { uploadImage } from "../cli/image-commands.js";
import type { RunningServer } from "../server.js";
import { OPERATOR, TEST_ADMIN_TOKEN, makeTempDir, startApiServer } from "../test-support.js";

let dir: { dir: string; remove: () => void };
let server: RunningServer;

/** Compressible but not trivial: a counter pattern with some noise. */
function rawImage(bytes: number): Buffer {
  const raw = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) raw.writeUInt32LE((i * 2654435761) >>> 20, i);
  return raw;
}

beforeEach(async () => {
  dir = makeTempDir("bootwright-images-");
  server = await startApiServer(dir.dir);
});

afterEach(async () => {
  await server.close();
  dir.remove();
});

async function listed(): Promise<ImageList> {
  return ImageList.parse(await (await fetch(`${server.url}/v1/images`, { headers: OPERATOR })).json());
}

function blobFiles(): string[] {
  return readdirSync(join(dir.dir, "images/sha256"));
}

describe("image store", () => {
  it("stores an upload by its sha256 with its raw size and checksum, once", async () => {
    const raw = rawImage(3 << 20);
    const file = join(dir.dir, "tiny.raw.zst");
    writeFileSync(file, compress(raw));
    const first = await uploadImage(
      server.url,
      file,
      { name: "tiny", format: "raw.zst", purpose: "os" },
      TEST_ADMIN_TOKEN,
    );
    expect(first.status).toBe(201);
    expect(first.image).toMatchObject({
      name: "tiny",
      format: "raw.zst",
      purpose: "os",
      rawBytes: raw.length,
    });
    const again = await uploadImage(
      server.url,
      file,
      { name: "tiny", format: "raw.zst", purpose: "os" },
      TEST_ADMIN_TOKEN,
    );
    expect(again.status).toBe(200);
    expect((await listed()).images).toEqual([first.image]);
    expect(blobFiles()).toEqual([first.image.sha256]);

    const detail = ImageDetail.parse(
      await (await fetch(`${server.url}/v1/images/tiny`, { headers: OPERATOR })).json(),
    );
    expect(detail.image.sha256).toBe(first.image.sha256);
    expect(detail.reads.storeBytesRead).toBe(0);

    const other = await fetch(`${server.url}/v1/images?name=renamed&format=raw.zst`, {
      headers: OPERATOR,
      method: "PUT",
      body: compress(raw),
    });
    expect(other.status).toBe(409);
    expect(((await other.json()) as { code: string }).code).toBe("image_conflict");
  });

  it("refuses a declared sha256 that differs, a truncated zstd stream and non-zstd bytes; keeps nothing", async () => {
    const packed = compress(rawImage(1 << 20));
    const put = (body: Buffer, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${server.url}/v1/images?name=bad&format=raw.zst`, {
        method: "PUT",
        body,
        headers: { ...OPERATOR, ...headers },
      });

    const wrongSha = await put(packed, { "x-bootwright-sha256": "0".repeat(64) });
    expect(wrongSha.status).toBe(422);
    const wrongBody = ErrorBody.parse(await wrongSha.json());
    expect(wrongBody.code).toBe("image_invalid");
    expect(wrongBody.message).toContain("declared");

    const truncated = await put(packed.subarray(0, packed.length - 100));
    expect(truncated.status).toBe(422);
    const truncatedBody = ErrorBody.parse(await truncated.json());
    expect(truncatedBody.code).toBe("image_invalid");
    expect(truncatedBody.message).toContain("not a complete zstd stream");

    const notZstd = await put(Buffer.from("this is not an image"));
    expect(notZstd.status).toBe(422);

    const badName = await fetch(`${server.url}/v1/images?name=../x&format=raw.zst`, {
      headers: OPERATOR,
      method: "PUT",
      body: packed,
    });
    expect(badName.status).toBe(400);

    expect((await listed()).images).toEqual([]);
    expect(blobFiles()).toEqual([]);
    expect(readdirSync(join(dir.dir, "images/tmp"))).toEqual([]);
  });

  it("serves the bytes whole, and from an offset with Range", async () => {
    const packed = compress(rawImage(2 << 20));
    const file = join(dir.dir, "img.raw.zst");
    writeFileSync(file, packed);
    const { image } = await uploadImage(
      server.url,
      file,
      { name: "img", format: "raw.zst", purpose: "os" },
      TEST_ADMIN_TOKEN,
    );
    const whole = await fetch(`${server.url}/v1/images/${image.sha256}/blob`, { headers: OPERATOR });
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(packed)).toBe(true);

    const tail = await fetch(`${server.url}/v1/images/${image.sha256}/blob`, {
      headers: { ...OPERATOR, range: "bytes=1000-" },
    });
    expect(tail.status).toBe(206);
    expect(tail.headers.get("content-range")).toBe(`bytes 1000-${packed.length - 1}/${packed.length}`);
    expect(Buffer.from(await tail.arrayBuffer()).equals(packed.subarray(1000))).toBe(true);

    const past = await fetch(`${server.url}/v1/images/${image.sha256}/blob`, {
      headers: { ...OPERATOR, range: `bytes=${packed.length}-` },
    });
    expect(past.status).toBe(416);
    const reads = ImageDetail.parse(
      await (await fetch(`${server.url}/v1/images/img`, { headers: OPERATOR })).json(),
    ).reads;
    expect(reads.storeBytesRead).toBe(packed.length * 2 - 1000);
    expect(reads.soloStreams).toBe(2);
  });
});
