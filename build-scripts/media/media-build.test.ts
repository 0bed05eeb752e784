// The media build (server/media/) on small stand-in files: a real ISO from xorriso, read back with the loader's own
// parsers (MBR, FAT label); and every refusal happens before anything is written.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fatVolumeLabel, parseMbr } from "../../protocol/index.js";
import { hasCode, MEDIA_LABEL } from "../../protocol/index.js";
import { buildMedia, type MediaBuildRequest } from "../../server/media/build-media.js";
import { standInMediaRequest } from "./stand-ins.js";

let dir: string;
let request: MediaBuildRequest;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-media-unit-"));
  request = { ...standInMediaRequest(dir, join(dir, "out.iso")), server: "http://192.0.2.1:8080" };
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("media build", () => {
  it("writes a hybrid ISO whose MBR names an ESP labelled for the loader", async () => {
    const built = await buildMedia({ ...request, static: "192.0.2.10/24,192.0.2.1,192.0.2.53" });
    expect(built.sizeBytes).toBeGreaterThan(1_000_000);
    const iso = readFileSync(built.path);
    const esp = parseMbr(iso.subarray(0, 512)).find((part) => part.type === 0xef);
    expect(esp).toBeDefined();
    const offset = (esp?.startLba ?? 0) * 512;
    expect(fatVolumeLabel(iso.subarray(offset, offset + 512))).toBe(MEDIA_LABEL);
    // The settings file is on the ESP in plain text (FAT stores small files contiguously).
    const espBytes = iso.subarray(offset, offset + (esp?.sectors ?? 0) * 512).toString("latin1");
    expect(espBytes).toContain("server=http://192.0.2.1:8080\n");
    expect(espBytes).toContain("static=192.0.2.10/24,192.0.2.1,192.0.2.53\n");
    // isolinux and GRUB both carry the media flag, not the server.
    expect(iso.toString("latin1")).toContain("bootwright.media=1 bootwright.path=media");
  });

  it.each([
    ["a server URL that is not one", { server: "192.0.2.1:8080" }, { setting: "server" }],
    ["a malformed CA fingerprint", { caFingerprint: "sha256:12" }, { setting: "ca" }],
    ["static addressing without a gateway", { static: "192.0.2.10/24" }, { setting: "static" }],
    ["a missing kernel", { kernel: "/nonexistent/vmlinuz" }, { file: "/nonexistent/vmlinuz" }],
    ["missing boot files", { bootFilesDir: "/nonexistent" }, { file: "/nonexistent/shimx64.efi" }],
  ] as const)("refuses %s before writing anything", async (_what, change, context) => {
    const out = join(dir, "refused.iso");
    const err: unknown = await buildMedia({ ...request, ...change, out }).catch((e: unknown) => e);
    expect(hasCode(err, "media_build_refused")).toBe(true);
    if (hasCode(err, "media_build_refused")) expect(err.context).toMatchObject(context);
    expect(existsSync(out)).toBe(false);
  });
});
