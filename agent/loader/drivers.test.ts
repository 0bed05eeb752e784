// The loader's driver bundle download against a real HTTP server on loopback: a bundle whose bytes do not
// match the sha256 the server named is refused, logged and fetched once more; twice wrong is an error.
// And what the loader does not ask for: a chipset's bridges and SMBus (QEMU's, unbound).
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { fetchBundle, loadDriversOnDemand } from "./drivers.js";

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

it("asks the server nothing for a chipset's bridges and SMBus left without a driver", async () => {
  const root = mkdtempSync(join(tmpdir(), "bootwright-loader-drivers-"));
  try {
    // QEMU's i440FX as its loader sees it (host bridge, ISA bridge, the PIIX4 ACPI function, which
    // i2c_piix4 claims) and q35's ICH9 SMBus controller (i2c_i801 would), none bound.
    const functions: [string, string, string][] = [
      ["0000:00:00.0", "0x1237", "0x060000"],
      ["0000:00:01.0", "0x7000", "0x060100"],
      ["0000:00:01.3", "0x7113", "0x068000"],
      ["0000:00:1f.3", "0x2930", "0x0c0500"],
    ];
    for (const [address, device, classCode] of functions) {
      const dir = join(root, "sys/bus/pci/devices", address);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "vendor"), "0x8086\n");
      writeFileSync(join(dir, "device"), `${device}\n`);
      writeFileSync(join(dir, "class"), `${classCode}\n`);
      const base = classCode.slice(2, 4).toUpperCase();
      const sub = classCode.slice(4, 6).toUpperCase();
      writeFileSync(
        join(dir, "modalias"),
        `pci:v00008086d0000${device.slice(2).toUpperCase()}sv00001AF4sd00001100bc${base}sc${sub}i00\n`,
      );
    }
    const before = [...served.values()].reduce((a, b) => a + b, 0);
    expect(await loadDriversOnDemand(url, `${root}/`)).toBeUndefined();
    expect([...served.values()].reduce((a, b) => a + b, 0)).toBe(before);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
