// Our TFTP server against a real client (curl's TFTP, which speaks the blksize and tsize options):
// whole files at several block sizes, the 16-bit block number rolling over, a file decided per request,
// and refusals (missing file, a write, a path that climbs out).
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeName, parseRequest, TftpServer, type TftpEvent } from "./tftp.js";

const dir = mkdtempSync(join(tmpdir(), "bw-tftp-"));
const events: TftpEvent[] = [];
let server: TftpServer;
const big = randomBytes(3 * 2 ** 20 + 17);
// More than 65535 blocks of 8 bytes: the block number wraps to 0 and goes on.
const wrapping = randomBytes(65_536 * 8 + 3);

function curl(args: string[]): Promise<{ code: number | null; stderr: string }> {
  // stderr is kept for the failure message of a test that expected success.
  return new Promise((resolve) => {
    const child = spawn("curl", ["--silent", "--show-error", "--max-time", "60", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("close", (code) => {
      resolve({ code, stderr });
    });
  });
}

const sha = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  writeFileSync(join(dir, "big.bin"), big);
  writeFileSync(join(dir, "wrapping.bin"), wrapping);
  server = await TftpServer.start({
    address: "127.0.0.1",
    port: 0,
    retransmitMs: 500,
    onEvent: (event) => events.push(event),
    resolve: (name, client) => {
      if (name === "big.bin" || name === "wrapping.bin")
        return Promise.resolve({ kind: "file", path: join(dir, name) });
      if (name === "who-am-i.cfg")
        return Promise.resolve({ kind: "bytes", bytes: Buffer.from(`you are ${client.address}\n`) });
      return Promise.resolve(undefined);
    },
  });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("TFTP server", () => {
  const url = (name: string): string => `tftp://127.0.0.1:${server.port}/${name}`;

  it.each([
    ["no options (512-byte blocks)", ["--tftp-no-options"]],
    ["blksize 1468 with tsize", ["--tftp-blksize", "1468"]],
    ["blksize 9000, answered with our largest", ["--tftp-blksize", "9000"]],
  ])("sends a whole file: %s", async (_label, flags) => {
    const out = join(dir, `out-${flags.join("")}`);
    const result = await curl([...flags, "-o", out, url("big.bin")]);
    expect(result).toMatchObject({ code: 0 });
    expect(sha(readFileSync(out))).toBe(sha(big));
    const sent = events.filter((e) => e.kind === "sent" && e.file === "big.bin").at(-1);
    expect(sent).toMatchObject({
      bytes: big.length,
      blksize: flags[1] === "1468" || flags[1] === "9000" ? 1468 : 512,
    });
  });

  it("goes on past block 65535 (the block number rolls over)", async () => {
    const out = join(dir, "out-wrapping");
    const result = await curl(["--tftp-blksize", "8", "-o", out, url("wrapping.bin")]);
    expect(result).toMatchObject({ code: 0 });
    expect(sha(readFileSync(out))).toBe(sha(wrapping));
  }, 60_000);

  it("answers a file made for the client that asks", async () => {
    const out = join(dir, "out-who");
    expect(await curl(["-o", out, url("who-am-i.cfg")])).toMatchObject({ code: 0 });
    expect(readFileSync(out, "utf8")).toBe("you are 127.0.0.1\n");
  });

  it("refuses a missing file, a write and a path that climbs out, and goes on serving", async () => {
    const missing = await curl(["-o", join(dir, "x"), url("nope.bin")]);
    expect(missing.code).toBe(68); // curl's CURLE_TFTP_NOTFOUND: our error 1 arrived
    expect(events).toContainEqual(expect.objectContaining({ kind: "not-found", file: "nope.bin" }));

    const write = await curl(["-T", join(dir, "big.bin"), url("upload.bin")]);
    expect(write.code).toBe(69); // CURLE_TFTP_PERM: error 2, access violation
    expect(events).toContainEqual(expect.objectContaining({ kind: "refused", reason: "write request" }));

    expect(normalizeName("../etc/passwd")).toBeUndefined();
    expect(normalizeName("/grub//./grub.cfg")).toBe("grub/grub.cfg");
    expect(normalizeName("\\EFI\\BOOT\\bootx64.efi")).toBe("EFI/BOOT/bootx64.efi");

    const out = join(dir, "out-after");
    expect(await curl(["-o", out, url("who-am-i.cfg")])).toMatchObject({ code: 0 });
  });

  it("parses a read request with options, case-insensitively", () => {
    const packet = Buffer.from("\0\x01ipxe.efi\0octet\0BLKSIZE\x001468\0tsize\x000\0", "latin1");
    expect(parseRequest(packet)).toEqual({
      opcode: 1,
      file: "ipxe.efi",
      options: new Map([
        ["blksize", "1468"],
        ["tsize", "0"],
      ]),
    });
    expect(parseRequest(Buffer.from([0, 1]))).toBeUndefined();
  });

  it("refuses to start on a port that is taken, saying which", async () => {
    await expect(
      TftpServer.start({
        address: "127.0.0.1",
        port: server.port,
        resolve: () => Promise.resolve(undefined),
      }),
    ).rejects.toMatchObject({ code: "tftp_failed", message: expect.stringMatching(/EADDRINUSE/) as unknown });
  });
});
