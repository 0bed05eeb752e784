// The initramfs build is reproducible (same inputs → same sha256) and small enough (≤ 32 MB).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { INITRAMFS_PATH, REPO_ROOT, requireBootArtefacts } from "./paths.js";

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

it("rebuilds byte-identical from the same inputs, within 32 MB", () => {
  requireBootArtefacts();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-initramfs-"));
  try {
    const again = join(dir, "initramfs.img");
    execFileSync(
      join(REPO_ROOT, "node_modules/.bin/tsx"),
      ["build-scripts/build-initramfs.ts", "--out", again, "--force"],
      {
        cwd: REPO_ROOT,
        stdio: "inherit",
      },
    );
    expect(
      sha256(again),
      "build/initramfs.img is stale or the build is not reproducible (run npm run setup)",
    ).toBe(sha256(INITRAMFS_PATH));
    expect(statSync(again).size).toBeLessThanOrEqual(32 * 1e6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
