// Builds both maintenance images into a temp directory and checks what the loader will find in them:
// the entries (sorted, mtime 0, owner 0), a manifest that parses, a program that imports under plain
// Node and exports every step its catalogue names, and tools that run with the libraries beside them.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MaintenanceManifest } from "../protocol/index.js";
import {
  buildMaintenanceImage,
  type BuiltMaintenanceImage,
  type MaintenanceKind,
} from "./build-maintenance-image.js";

const TOOL: Record<MaintenanceKind, string> = {
  diagnostic: "/usr/sbin/smartctl",
  repair: "/usr/sbin/e2fsck",
};

let outDir: string;
const built = new Map<MaintenanceKind, BuiltMaintenanceImage>();

function lddNames(binary: string): string[] {
  return execFileSync("ldd", [binary])
    .toString()
    .split("\n")
    .flatMap((line) => {
      const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      return match?.[1] ? [basename(match[1])] : [];
    });
}

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), "bootwright-maintenance-image-"));
  for (const kind of ["diagnostic", "repair"] as const)
    built.set(kind, await buildMaintenanceImage({ kind, outDir, log: () => undefined }));
}, 120_000);
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe.each(["diagnostic", "repair"] as const)("the %s image", (kind) => {
  const image = (): BuiltMaintenanceImage => {
    const result = built.get(kind);
    if (!result) throw new Error(`${kind} was not built`);
    return result;
  };

  it("is a reproducible tar: sorted names, mtime 0, owner 0, the tool and its missing libraries", () => {
    const { path, built: fresh } = image();
    expect(path).toBe(join(outDir, `${kind}.tar.zst`));
    expect(fresh).toBe(true);
    const listing = execFileSync("tar", ["--use-compress-program=zstd", "-tvf", path, "--numeric-owner"])
      .toString()
      .trim()
      .split("\n");
    const names = listing.map((line) => line.split(/\s+/).at(-1) ?? "");
    expect(names).toEqual([...names].sort());
    for (const line of listing)
      expect(line).toMatch(/^(drwxr-xr-x|-rwxr-xr-x|-rw-r--r--) 0\/0 +\d+ 1970-01-01 00:00 /);
    const tool = basename(TOOL[kind]);
    const beside = new Set(lddNames(process.execPath));
    const libs = lddNames(TOOL[kind]).filter((name) => !beside.has(name));
    expect(libs.length).toBeGreaterThan(0);
    expect(names).toEqual(
      [
        "bin/",
        `bin/${tool}`,
        "lib/",
        ...libs.map((lib) => `lib/${lib}`).sort(),
        "manifest.json",
        "program.mjs",
      ].sort(),
    );
    expect(listing.find((line) => line.endsWith(`bin/${tool}`))).toMatch(/^-rwxr-xr-x /);
    // Nothing the initramfs already runs Node with: libc, libm, libstdc++, libgcc_s, ld-linux…
    expect(names.filter((name) => /lib\/(libc|libm|libstdc\+\+|libgcc_s|ld-linux)[.-]/.test(name))).toEqual(
      [],
    );
  });

  it("holds a manifest naming the program, every step with its description, and the defaults", () => {
    const extract = mkdtempSync(join(outDir, `${kind}-x-`));
    execFileSync("tar", ["--use-compress-program=zstd", "-xf", image().path, "-C", extract]);
    const manifest = MaintenanceManifest.parse(
      JSON.parse(readFileSync(join(extract, "manifest.json"), "utf8")),
    );
    expect(manifest).toEqual(image().manifest);
    expect(manifest).toMatchObject({ name: kind, purpose: kind, program: "program.mjs" });
    expect(manifest.defaultSteps.map((s) => s.name)).toEqual(
      kind === "diagnostic"
        ? ["cpu-benchmark", "memory-test", "disk-read", "smart"]
        : ["check-boot-area", "restore-boot-area", "fsck-root"],
    );
    for (const step of Object.values(manifest.steps)) expect(step.length).toBeGreaterThan(20);

    // The bundle under plain Node (no tsx, no vitest): it exports a run() for every catalogue step.
    const exported = JSON.parse(
      execFileSync(process.execPath, [
        "--input-type=module",
        "-e",
        "const { steps } = await import(process.argv[1]); console.log(JSON.stringify(Object.fromEntries(Object.entries(steps).map(([n, s]) => [n, [typeof s.run, s.describe]]))));",
        join(extract, "program.mjs"),
      ]).toString(),
    ) as Record<string, [string, string]>;
    expect(Object.keys(exported).sort()).toEqual(Object.keys(manifest.steps).sort());
    for (const [name, [run, describe]] of Object.entries(exported)) {
      expect(run, name).toBe("function");
      expect(describe).toBe(manifest.steps[name]);
    }

    // The tool runs from the image with LD_LIBRARY_PATH=lib, as the steps run it.
    const tool = basename(TOOL[kind]);
    const ran = spawnSync(join(extract, "bin", tool), kind === "diagnostic" ? ["--version"] : ["-V"], {
      env: { ...process.env, LD_LIBRARY_PATH: join(extract, "lib") },
      encoding: "utf8",
    });
    expect(ran.status).toBe(0);
    expect(ran.stdout + ran.stderr).toMatch(new RegExp(`^${tool} \\d`));
  });
});

describe("buildMaintenanceImage", () => {
  it("runs a step from the diagnostic bundle under plain Node", () => {
    const extract = mkdtempSync(join(outDir, "run-"));
    execFileSync("tar", [
      "--use-compress-program=zstd",
      "-xf",
      built.get("diagnostic")?.path ?? "",
      "-C",
      extract,
    ]);
    const out = execFileSync(process.execPath, [
      "--input-type=module",
      "-e",
      [
        "const { steps } = await import(process.argv[1]);",
        "const result = await steps['cpu-benchmark'].run({ root: '/', params: { seconds: 0.5 }, signal: AbortSignal.timeout(10000), progress() {} });",
        "console.log(JSON.stringify(result));",
      ].join(" "),
      join(extract, "program.mjs"),
    ]).toString();
    expect(JSON.parse(out)).toMatchObject({ threads: 1, logicalCpus: expect.any(Number) as number });
  });

  it("is cached by its inputs, and a forced rebuild gives the same bytes", async () => {
    const first = built.get("repair");
    const cached = await buildMaintenanceImage({ kind: "repair", outDir, log: () => undefined });
    expect(cached).toMatchObject({ built: false, sha256: first?.sha256 });
    const again = await buildMaintenanceImage({ kind: "repair", outDir, force: true, log: () => undefined });
    expect(again).toMatchObject({ built: true, sha256: first?.sha256, sizeBytes: first?.sizeBytes });
  });
});
