// Builds a maintenance image (seeds 001, 004): build/images/<kind>.tar.zst holding manifest.json (a
// protocol MaintenanceManifest), program.mjs (the esbuild bundle of agent/installer/maintenance/<kind>.ts)
// and the host tools its steps run (bin/) with the shared libraries the loader initramfs lacks (lib/).
// Reproducible (sorted entries, mtime 0, owner 0, zstd -19); cached by an inputs sha256 stamp. Usage:
//   npx tsx build-scripts/build-maintenance-image.ts --kind diagnostic|repair [--out DIR] [--force]
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, join, resolve } from "node:path";
import { build } from "esbuild";
import { MaintenanceManifest } from "../protocol/index.js";
import { steps as diagnosticSteps } from "../agent/installer/maintenance/diagnostic.js";
import type { MaintenanceProgram } from "../agent/installer/maintenance/program.js";
import { steps as repairSteps } from "../agent/installer/maintenance/repair.js";
import { NODE_ESM_BUNDLE } from "./esbuild-node.js";
import { withLock } from "./os-image/lock.js";
import { run, runText } from "./os-image/run.js";
import { flagValue } from "./cli-args.js";

export type MaintenanceKind = "diagnostic" | "repair";
export const MAINTENANCE_KINDS: readonly MaintenanceKind[] = ["diagnostic", "repair"];

interface HostTool {
  path: string;
  /** The Debian package that ships it. */
  pkg: string;
}

interface KindSpec {
  /** The program's source, relative to the repository. */
  source: string;
  catalogue: MaintenanceProgram;
  description: string;
  defaultSteps: string[];
  /** Copied to bin/<basename>; the steps run them from the unpacked image. */
  tools: HostTool[];
}

const KINDS: Record<MaintenanceKind, KindSpec> = {
  diagnostic: {
    source: "agent/installer/maintenance/diagnostic.ts",
    catalogue: diagnosticSteps,
    description:
      "Hardware diagnostics: CPU hash rate, a memory pattern test, disk read rates and errors, SMART health",
    defaultSteps: ["cpu-benchmark", "memory-test", "disk-read", "smart"],
    tools: [{ path: "/usr/sbin/smartctl", pkg: "smartmontools" }],
  },
  repair: {
    source: "agent/installer/maintenance/repair.ts",
    catalogue: repairSteps,
    description:
      "Boot-area repair: restore the MBR and GPTs recorded at install, then check the root filesystem",
    defaultSteps: ["check-boot-area", "restore-boot-area", "fsck-root"],
    tools: [{ path: "/usr/sbin/e2fsck", pkg: "e2fsprogs" }],
  },
};

/** What every build needs besides the kind's tools. */
const BUILD_TOOLS: HostTool[] = [
  { path: "/usr/bin/tar", pkg: "tar" },
  { path: "/usr/bin/zstd", pkg: "zstd" },
  { path: "/usr/bin/ldd", pkg: "libc-bin" },
];

export interface BuildMaintenanceImageOptions {
  kind: MaintenanceKind;
  /** Default build/images. */
  outDir?: string;
  /** Rebuild even when the inputs stamp matches. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface BuiltMaintenanceImage {
  /** <outDir>/<kind>.tar.zst */
  path: string;
  manifest: MaintenanceManifest;
  /** False when the cached image was up to date. */
  built: boolean;
  seconds: number;
  sha256: string;
  sizeBytes: number;
}

const ROOT = resolve(import.meta.dirname, "..");
export const DEFAULT_IMAGES_DIR = join(ROOT, "build", "images");
const PROGRAM = "program.mjs";
const ZSTD_LEVEL = "-19";
const LOCK_WAIT_MS = 10 * 60_000;

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function requireHostTools(kind: MaintenanceKind): void {
  const missing = [...KINDS[kind].tools, ...BUILD_TOOLS].filter((tool) => !existsSync(tool.path));
  if (missing.length)
    throw new Error(
      `building the ${kind} maintenance image needs ${missing.map((t) => `${t.path} (apt: ${t.pkg})`).join(", ")}: ` +
        "install them (build-scripts/setup.sh)",
    );
}

/** Shared libraries `ldd` names for a binary, as [path as linked, real file]. */
async function sharedLibraries(binary: string): Promise<[string, string][]> {
  const libs: [string, string][] = [];
  for (const line of (await runText("ldd", [binary])).split("\n")) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match?.[1]) libs.push([match[1], (await runText("realpath", [match[1]])).trim()]);
  }
  return libs;
}

/**
 * The libraries a tool needs that the loader initramfs does not already carry beside Node
 * (build-scripts/build-initramfs.ts copies the libraries ldd names for the same Node binary: libc,
 * libm, libdl, libpthread, libstdc++, libgcc_s, ld-linux). Those stay out: a second libc in
 * LD_LIBRARY_PATH would fight the one Node runs with.
 */
async function toolLibraries(tools: readonly HostTool[]): Promise<{ name: string; real: string }[]> {
  const beside = new Set((await sharedLibraries(process.execPath)).map(([linked]) => basename(linked)));
  const wanted = new Map<string, string>();
  for (const tool of tools)
    for (const [linked, real] of await sharedLibraries(tool.path))
      if (!beside.has(basename(linked))) wanted.set(basename(linked), real);
  return [...wanted].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, real]) => ({ name, real }));
}

async function bundleProgram(source: string): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [join(ROOT, source)],
    // Paths in the bundle's comments are relative to this: the same wherever the build runs from.
    absWorkingDir: ROOT,
    ...NODE_ESM_BUNDLE,
    write: false,
    legalComments: "none",
    logLevel: "warning",
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote nothing for ${source}`);
  return output.contents;
}

export function maintenanceManifest(kind: MaintenanceKind): MaintenanceManifest {
  const spec = KINDS[kind];
  return MaintenanceManifest.parse({
    name: kind,
    purpose: kind,
    description: spec.description,
    program: PROGRAM,
    steps: Object.fromEntries(Object.entries(spec.catalogue).map(([name, step]) => [name, step.describe])),
    defaultSteps: spec.defaultSteps.map((name) => ({ name, params: {} })),
  });
}

/** Builds (or finds up to date) the `kind` maintenance image; waits while another process builds it. */
export async function buildMaintenanceImage(
  options: BuildMaintenanceImageOptions,
): Promise<BuiltMaintenanceImage> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  requireHostTools(options.kind);
  const outDir = resolve(options.outDir ?? DEFAULT_IMAGES_DIR);
  mkdirSync(outDir, { recursive: true });
  return withLock(join(outDir, `${options.kind}.tar.zst.lock`), LOCK_WAIT_MS, log, () =>
    buildLocked(options, outDir, log, started),
  );
}

async function buildLocked(
  options: BuildMaintenanceImageOptions,
  outDir: string,
  log: (line: string) => void,
  started: number,
): Promise<BuiltMaintenanceImage> {
  const { kind } = options;
  const spec = KINDS[kind];
  const path = join(outDir, `${kind}.tar.zst`);
  const stamp = `${path}.inputs-sha256`;
  const manifest = maintenanceManifest(kind);
  const manifestJson = `${JSON.stringify(manifest, null, 2)}\n`;
  const program = await bundleProgram(spec.source);
  const libs = await toolLibraries(spec.tools);
  const inputs = sha256(
    [
      kind,
      readFileSync(import.meta.filename),
      manifestJson,
      program,
      ...spec.tools.map((tool) => `${tool.path}:${sha256(readFileSync(tool.path))}`),
      ...libs.map((lib) => `${lib.name}:${sha256(readFileSync(lib.real))}`),
      await runText("zstd", ["--version"]),
    ]
      .map((part) => sha256(part))
      .join(""),
  );
  const finish = (built: boolean): BuiltMaintenanceImage => {
    const bytes = readFileSync(path);
    return {
      path,
      manifest,
      built,
      seconds: (performance.now() - started) / 1000,
      sha256: sha256(bytes),
      sizeBytes: bytes.length,
    };
  };
  if (!options.force && existsSync(path) && existsSync(stamp) && readFileSync(stamp, "utf8") === inputs) {
    log(`[maintenance-image] ${kind} up to date (${(statSync(path).size / 1e6).toFixed(1)} MB)`);
    return finish(false);
  }

  log(
    `[maintenance-image] building ${kind}: ${spec.tools.map((t) => basename(t.path)).join(", ")}, ${libs.length} libraries`,
  );
  const work = join(outDir, `${kind}.work`);
  rmSync(work, { recursive: true, force: true });
  const staging = join(work, "root");
  try {
    for (const dir of ["", "bin", "lib"]) {
      mkdirSync(join(staging, dir), { recursive: true });
      chmodSync(join(staging, dir), 0o755);
    }
    writeFileSync(join(staging, "manifest.json"), manifestJson, { mode: 0o644 });
    writeFileSync(join(staging, PROGRAM), program, { mode: 0o644 });
    for (const tool of spec.tools) {
      copyFileSync(tool.path, join(staging, "bin", basename(tool.path)));
      chmodSync(join(staging, "bin", basename(tool.path)), 0o755);
    }
    for (const lib of libs) {
      copyFileSync(lib.real, join(staging, "lib", lib.name));
      chmodSync(join(staging, "lib", lib.name), 0o644);
    }
    const tar = join(work, `${kind}.tar`);
    // GNU tar: names sorted bytewise, every mtime 0, owner root, no user or group names.
    await run(
      "tar",
      [
        "--create",
        "--format=gnu",
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--file=-",
        "-C",
        staging,
        "bin",
        "lib",
        "manifest.json",
        PROGRAM,
      ],
      { stdoutFile: tar },
    );
    // No stamp while the output changes: a crash between here and the rename must mean "rebuild".
    rmSync(stamp, { force: true });
    const temp = `${path}.tmp`;
    await run("zstd", [ZSTD_LEVEL, "-q", "-f", "--no-progress", tar, "-o", temp]);
    renameSync(temp, path);
    writeFileSync(`${stamp}.tmp`, inputs);
    renameSync(`${stamp}.tmp`, stamp);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const result = finish(true);
  log(
    `[maintenance-image] ${kind} built: ${(result.sizeBytes / 1e6).toFixed(2)} MB, sha256 ${result.sha256.slice(0, 16)}…, ` +
      `${result.seconds.toFixed(1)} s`,
  );
  return result;
}

function parseArgs(argv: string[]): BuildMaintenanceImageOptions {
  const value = (flag: string): string | undefined => flagValue(argv, flag);
  const kind = value("--kind");
  if (kind !== "diagnostic" && kind !== "repair")
    throw new Error(`--kind must be one of ${MAINTENANCE_KINDS.join(", ")} (got ${kind ?? "nothing"})`);
  const outDir = value("--out");
  return { kind, force: argv.includes("--force"), ...(outDir ? { outDir } : {}) };
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  try {
    const built = await buildMaintenanceImage(parseArgs(process.argv.slice(2)));
    process.stdout.write(`${built.path}\n`);
  } catch (err) {
    process.stderr.write(`[maintenance-image] failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
