// The erase on disk files standing in for block devices (a root of our own: sys/block/<disk>/size and
// dev/<disk>), with the real wipefs: a GPT and an ext4 signature gone and both checked; zeros read back
// over random bytes; a disk that fills up mid-erase named with its offset (a 1 MiB tmpfs); a disk with
// no device-level erase refused by name rather than claimed; hdparm's security section read right.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ataSecureEraseState, eraseDisks, type EraseContext } from "./erase.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bw-erase-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A root with one "disk" of `bytes` (the file `dev/<name>`), or the file given. */
function rootWith(name: string, bytes: number, content?: Buffer): { root: string; disk: string } {
  const root = join(dir, `root-${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(root, "sys/block", name), { recursive: true });
  mkdirSync(join(root, "dev"), { recursive: true });
  mkdirSync(join(root, "proc/sys/vm"), { recursive: true });
  writeFileSync(join(root, "sys/block", name, "size"), `${bytes / 512}\n`);
  const disk = join(root, "dev", name);
  writeFileSync(disk, content ?? Buffer.alloc(bytes));
  return { root, disk };
}

const context = (root: string): EraseContext => ({
  root,
  signal: AbortSignal.timeout(60_000),
  progress: () => undefined,
});

describe("erase", () => {
  it("quick: the GPT at both ends and a filesystem signature are gone, and checked", async () => {
    const { root, disk } = rootWith("vdx", 16 * 2 ** 20);
    execFileSync("sfdisk", ["--quiet", disk], { input: "label: gpt\nsize=4MiB\n" });
    const withFs = rootWith("vdy", 16 * 2 ** 20);
    execFileSync("mkfs.ext4", ["-q", "-F", withFs.disk]);
    const [gpt] = await eraseDisks("quick", context(root));
    expect(gpt).toMatchObject({ name: "vdx", method: "wipefs", verifiedBytes: 8192 });
    expect(gpt?.note).toMatch(/does not support discard/);
    const bytes = readFileSync(disk);
    expect(bytes.subarray(512, 520).toString("latin1")).not.toBe("EFI PART");
    expect(bytes.subarray(bytes.length - 512, bytes.length - 504).toString("latin1")).not.toBe("EFI PART");
    await eraseDisks("quick", context(withFs.root));
    expect(execFileSync("wipefs", ["--no-act", "--noheadings", withFs.disk]).toString().trim()).toBe("");
  });

  it("full: every byte zero, read back", async () => {
    const { root, disk } = rootWith("vdz", 8 * 2 ** 20, randomBytes(8 * 2 ** 20));
    const [done] = await eraseDisks("full", context(root));
    expect(done).toMatchObject({ name: "vdz", method: "zeros", verifiedBytes: 8 * 2 ** 20 });
    expect(readFileSync(disk).every((byte) => byte === 0)).toBe(true);
  });

  it("full: a disk that fails mid-erase is named with the offset", async () => {
    const { root } = rootWith("vdf", 4 * 2 ** 20, Buffer.alloc(0));
    // The "disk" lives on a 1 MiB tmpfs: the write past its end fails as a dying disk's would.
    const small = join(root, "dev-small");
    mkdirSync(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
    try {
      writeFileSync(join(small, "vdf"), "");
      execFileSync("ln", ["-sf", join(small, "vdf"), join(root, "dev", "vdf")]);
      await expect(eraseDisks("full", context(root))).rejects.toThrow(
        /^vdf: write failed at offset \d+: (short write|.*ENOSPC|.*No space left on device)/,
      );
    } finally {
      execFileSync("umount", [small]);
    }
  });

  it("secure: a disk with no device-level erase is named, never claimed", async () => {
    const { root } = rootWith("vdq", 2 ** 20, randomBytes(2 ** 20));
    await expect(eraseDisks("secure", context(root))).rejects.toThrow(
      /^secure erase not done on vdq \(vdq is neither NVMe nor ATA: it has no device-level erase \(use --erase full\)\); erased: none$/,
    );
  });

  it("reads hdparm's security section: supported and not frozen, frozen, or none", () => {
    const section = (frozen: string): string =>
      `ATA device\nSecurity: \n\tMaster password revision code = 65534\n\t\tsupported\n\tnot\tenabled\n\tnot\tlocked\n\t${frozen}\n\tnot\texpired: security count\n\t\tsupported: enhanced erase\nLogical Unit WWN Device Identifier\n`;
    expect(ataSecureEraseState(section("not\tfrozen"))).toEqual({ ok: true });
    expect(ataSecureEraseState(section("\tfrozen"))).toMatchObject({
      ok: false,
      why: expect.stringMatching(/frozen/) as unknown,
    });
    expect(ataSecureEraseState("ATA device\nCommands/features:\n")).toMatchObject({ ok: false });
  });
});
