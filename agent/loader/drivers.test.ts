// The loader's driver bundle download against a real HTTP server on loopback: a bundle whose bytes do not
// match the sha256 the server named is refused, logged and fetched once more; twice wrong is an error.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { fetchBundle } from "./drivers.js";

const TAR = Buffer.from("a tar, as far as this test cares");
const GOOD = compress(TAR);
const SHA256 = createHash("sha256").update(GOOD).digest("hex");
let server: Server;
let url: string;
/** Per path: how many of the first answers are corrupt. */
const corruptFirst = new Map<string, number>([
  ["/once", 1],
  ["/always", 99],
]);
const served = new Map<string, number>();

beforeAll(async () => {
  // The loader finds zstd-napi beside Node in the initramfs; on the host, in the project (native.ts).
  process.env.BOOTWRIGHT_NODE_MODULES ??= resolve(import.meta.dirname, "../../node_modules");
  server = createServer((req, res) => {
    const path = req.url ?? "";
    const count = (served.get(path) ?? 0) + 1;
    served.set(path, count);
    const corrupt = count <= (corruptFirst.get(path) ?? 0);
    const body = Buffer.from(GOOD);
    if (corrupt) body.writeUInt8((body.at(-1) ?? 0) ^ 0xff, body.length - 1);
    res.end(body);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((done) =>
      server.close(() => {
        done();
      }),
    ),
);

it("fetches again once when the bytes do not match their sha256, then unpacks the good ones", async () => {
  const tar = await fetchBundle(url, { sha256: SHA256, sizeBytes: GOOD.length, path: "/once" });
  expect(tar.equals(TAR)).toBe(true);
  expect(served.get("/once")).toBe(2);
});

it("refuses a bundle that is wrong twice, naming what it received", async () => {
  await expect(fetchBundle(url, { sha256: SHA256, sizeBytes: GOOD.length, path: "/always" })).rejects.toThrow(
    /sha256 [0-9a-f]{64}, twice: refused/,
  );
  expect(served.get("/always")).toBe(2);
});
