// Builds build/initramfs.img reproducibly: Debian's kernel modules, busybox-static, the host's Node
// binary with its shared libraries, and the esbuild-bundled loader. Same inputs → same sha256 (sorted
// cpio, fixed mtimes, uid 0); skipped when the inputs' hash matches the last build.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { build, type Metafile } from "esbuild";
import { NODE_ESM_BUNDLE } from "./esbuild-node.js";
import { INITRAMFS_TOOLS } from "../agent/installer/tools.js";
import { LLDP_LISTENER } from "../agent/loader/lldp-listener.js";
import { NVME_FORMAT } from "../agent/loader/erase.js";
import { KEXEC_BOOT } from "../agent/loader/kexec.js";
import {
  expandModuleList,
  isSignedModule,
  moduleClosure,
  moduleName,
  parseModuleList,
  parseModulesDep,
} from "../server/drivers/module-tree.js";
import { moduleFirmware } from "../server/drivers/modinfo.js";
import { globPattern } from "../server/drivers/modules-alias.js";
import { trimNodeIcu } from "./node-icu.js";

const ROOT = resolve(import.meta.dirname, "..");
const BUILD = join(ROOT, "build");
const KERNEL = join(BUILD, "kernel");
const DEFAULT_OUTPUT = join(BUILD, "initramfs.img");
/** The loader's bundle: loader.mjs, and the chunks it imports only when it needs them (loader-*.mjs). */
const LOADER_BUNDLE_DIR = join(BUILD, "loader", "bundle");
/** What initramfs/init runs. */
const LOADER_ENTRY = "loader.mjs";
/**
 * Packages the loader's start must not load: evaluated at every start, undici cost a boot ~0.75 s
 * under TCG (Node's start to the bundle evaluated: 3.6 → 2.7 s), and only a pinned TLS server or the
 * install bench needs it. One in the entry or in a chunk the entry imports statically fails the build.
 */
const LAZY_PACKAGES = ["undici"];
/**
 * Our small C programs (initramfs/<name>.c), each linked against the libc Node brings along, built into
 * build/loader/<name> and installed at the path the loader runs it from.
 */
const C_HELPERS: readonly { name: string; installedAt: string }[] = [
  // The LLDP listener: Node has no packet sockets.
  { name: "lldp-listen", installedAt: LLDP_LISTENER },
  // NVMe Format for a secure erase: nvme-cli would bring ~4 MB of libraries.
  { name: "nvme-format", installedAt: NVME_FORMAT },
  // kexec_file_load for a plan's `reboot: kexec`: Debian's kexec-tools would bring Xen's libraries.
  { name: "kexec-boot", installedAt: KEXEC_BOOT },
];
const helperSource = (name: string): string => join(ROOT, "initramfs", `${name}.c`);
const helperBinary = (name: string): string => join(BUILD, "loader", name);
const NODE_BINARY = process.execPath;
/** Debian's firmware packages, unpacked by build-scripts/fetch-firmware.sh. */
const FIRMWARE = join(BUILD, "firmware/lib/firmware");
const BUSYBOX = "/bin/busybox";
/**
 * zstd-napi for the install stream: a native addon esbuild cannot bundle, so the initramfs carries the
 * package where agent/installer/native.ts looks for it (beside Node, not inside any bundle).
 */
const ZSTD_NAPI = join(ROOT, "node_modules/zstd-napi");
const ZSTD_NAPI_DEST = "usr/lib/bootwright/node_modules/zstd-napi";
/**
 * zstd -22 with a 128 MiB window (--long=27): 0.8 MB smaller than -19 with every Ethernet driver in
 * (32.4 vs 33.2 MB before the firmware choices of initramfs/firmware.txt); Debian's kernel has RD_ZSTD
 * and its unzstd takes windows up to 128 MiB (lib/decompress_unzstd.c), allocated only while unpacking.
 */
const ZSTD_LEVEL = ["--ultra", "-22", "--long=27"];

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function sh(cmd: string, args: string[], options: { cwd?: string; input?: Buffer } = {}): Buffer {
  return execFileSync(cmd, args, {
    cwd: options.cwd,
    input: options.input,
    maxBuffer: 1 << 30,
    stdio: ["pipe", "pipe", "inherit"],
  });
}

/** The source files in the entry and in every chunk it imports statically: what the loader's start loads. */
function startInputs(outputs: Metafile["outputs"]): string[] {
  // Each import() target is an entry point of its own too: the loader is the one named LOADER_ENTRY.
  const pending = Object.keys(outputs).filter((path) => path.endsWith(`/${LOADER_ENTRY}`));
  const loaded = new Set<string>();
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (loaded.has(path)) continue;
    loaded.add(path);
    for (const imported of outputs[path]?.imports ?? [])
      if (imported.kind === "import-statement" && imported.path in outputs) pending.push(imported.path);
  }
  return [...loaded].flatMap((path) => Object.keys(outputs[path]?.inputs ?? {}));
}

/** Bundles the loader into LOADER_BUNDLE_DIR; returns its files, sorted. */
async function bundleLoader(): Promise<string[]> {
  rmSync(LOADER_BUNDLE_DIR, { recursive: true, force: true });
  mkdirSync(LOADER_BUNDLE_DIR, { recursive: true });
  const result = await build({
    entryPoints: { loader: join(ROOT, "agent/loader/main.ts") },
    outdir: LOADER_BUNDLE_DIR,
    outExtension: { ".js": ".mjs" },
    // What `import()` names goes into chunks of its own, read from disk only when first imported.
    splitting: true,
    chunkNames: "loader-[hash]",
    metafile: true,
    ...NODE_ESM_BUNDLE,
    // Whitespace and syntax only (names stay, so a crash's stack still reads): Node parses a third fewer
    // bytes at every loader start, 170 → 140 ms on the host, about half a second under TCG.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    logLevel: "warning",
  });
  const eager = startInputs(result.metafile.outputs).filter((input) =>
    LAZY_PACKAGES.some((name) => input.includes(`node_modules/${name}/`)),
  );
  if (eager.length)
    throw new Error(
      `the loader's start loads ${eager[0] ?? ""} (in its entry or a chunk the entry imports statically): ` +
        "import its importer with import() where it is used, so every boot does not evaluate it",
    );
  const files = readdirSync(LOADER_BUNDLE_DIR).sort();
  if (!files.includes(LOADER_ENTRY)) throw new Error(`esbuild wrote no ${LOADER_ENTRY}: ${files.join(", ")}`);
  return files;
}

/** Compiles the C helpers; gcc's output for the same source and compiler is the same bytes. */
function buildHelpers(): void {
  mkdirSync(join(BUILD, "loader"), { recursive: true });
  for (const { name } of C_HELPERS)
    sh("gcc", ["-Os", "-Wall", "-Werror", "-s", "-o", helperBinary(name), helperSource(name)]);
}

/** The runtime files of zstd-napi (package.json, its JS, the compiled binding), relative to the package. */
function zstdNapiFiles(): string[] {
  const dist = readdirSync(join(ZSTD_NAPI, "dist"))
    .filter((name) => name.endsWith(".js"))
    .map((name) => `dist/${name}`);
  const files = ["package.json", "binding.js", "build/Release/binding.node", ...dist.sort()];
  for (const file of files)
    if (!existsSync(join(ZSTD_NAPI, file)))
      throw new Error(`${join(ZSTD_NAPI, file)} is missing: run npm ci (zstd-napi builds from source)`);
  return files;
}

/**
 * Host tools the initramfs carries beside busybox, with their shared libraries: zstd, for the install
 * benchmark's baseline pipeline (wget | zstd -d | dd) and for an operator at the console; and the
 * programs the installer plugins run (mdadm, mkfs.*, chattr: agent/installer/tools.ts), each at the
 * path it has on the host.
 */
const EXTRA_BINARIES = ["/usr/bin/zstd", ...INITRAMFS_TOOLS.map((tool) => tool.path)];

/** Fails naming the Debian package of every tool the build host lacks. */
function requireTools(): void {
  const missing = INITRAMFS_TOOLS.filter((tool) => !existsSync(tool.path));
  if (missing.length)
    throw new Error(
      `the initramfs needs ${missing.map((t) => `${t.path} (apt: ${t.pkg})`).join(", ")}: run build-scripts/setup.sh`,
    );
}

/** Shared libraries `ldd` says a binary needs, as [path as linked, real file]. */
function sharedLibraries(binary: string): [string, string][] {
  const out = sh("ldd", [binary]).toString();
  const libs: [string, string][] = [];
  for (const line of out.split("\n")) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match?.[1]) libs.push([match[1], execFileSync("realpath", [match[1]]).toString().trim()]);
  }
  return libs;
}

function copyInto(staging: string, dest: string, src: string, mode?: number): void {
  const target = join(staging, dest);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(src, target);
  if (mode !== undefined) chmodSync(target, mode);
}

/**
 * The firmware files the modules ask for (modinfo `firmware:`), less those initramfs/firmware.txt leaves
 * out (`-glob`, with its reason), and those no Debian package ships (`absent`: e.g. firmware whose
 * licence keeps it out of Debian; the driver then says so in dmesg).
 */
function firmwareFor(modulePaths: string[]): { files: string[]; absent: string[] } {
  const omitted = parseModuleList(readFileSync(join(ROOT, "initramfs/firmware.txt"), "utf8"))
    .filter((entry) => entry.startsWith("-"))
    .map((entry) => globPattern(entry.slice(1)));
  if (!existsSync(FIRMWARE)) throw new Error(`${FIRMWARE} is missing: run build-scripts/fetch-firmware.sh`);
  const asked = new Set(modulePaths.flatMap((path) => moduleFirmware(readFileSync(path))));
  const wanted = [...asked].filter((file) => !omitted.some((omit) => omit.test(file))).sort();
  return {
    files: wanted.filter((file) => existsSync(join(FIRMWARE, file))),
    absent: wanted.filter((file) => !existsSync(join(FIRMWARE, file))),
  };
}

/** Trims the staged Node's ICU data to English (build-scripts/node-icu.ts), then proves it still runs. */
function trimStagedNode(stagedNode: string): void {
  // The package's size is its symbol's: `nm` on the host's binary (the staged copy is stripped).
  const symbol = /^[0-9a-f]+ ([0-9a-f]+) [rR] icudt\d+_dat$/m.exec(
    sh("nm", ["-S", "--defined-only", NODE_BINARY]).toString(),
  );
  if (!symbol?.[1]) {
    console.log("[setup] this Node has no icudt symbol (stripped or small-icu): its ICU data stays as it is");
    return;
  }
  const trimmed = trimNodeIcu(readFileSync(stagedNode), parseInt(symbol[1], 16));
  if (!trimmed) throw new Error("nm names an icudt symbol but no ICU package header was found in node");
  writeFileSync(stagedNode, trimmed.binary);
  // What the loader and its libraries use of Intl, with a locale the trimmed data no longer has.
  const smoke = [
    'if (typeof new Date(0).toLocaleString("de-DE") !== "string") throw new Error("toLocaleString");',
    'if ("b".localeCompare("a") !== 1 || "\ufb01".normalize("NFKC") !== "fi") throw new Error("collation");',
    'if (!/\\p{L}/u.test("\u00e9") || (1234.5).toLocaleString() !== "1,234.5") throw new Error("properties");',
    'if (!Intl.DateTimeFormat().resolvedOptions().timeZone) throw new Error("time zone");',
  ].join("\n");
  execFileSync(stagedNode, ["-e", smoke], { stdio: "inherit", env: { ...process.env, TZ: "Europe/Paris" } });
  console.log(
    `[setup] node's ICU data trimmed to English: ${(trimmed.before / 1e6).toFixed(1)} → ${(trimmed.after / 1e6).toFixed(1)} MB (${trimmed.kept} items)`,
  );
}

/** `--out FILE` builds elsewhere (the reproducibility test); `--force` ignores the inputs stamp. */
function parseArgs(argv: string[]): { output: string; force: boolean } {
  const outAt = argv.indexOf("--out");
  const output = outAt === -1 ? DEFAULT_OUTPUT : resolve(argv[outAt + 1] ?? "");
  if (outAt !== -1 && !argv[outAt + 1]) throw new Error("--out needs a file name");
  return { output, force: argv.includes("--force") };
}

async function main(): Promise<void> {
  const started = Date.now();
  const { output, force } = parseArgs(process.argv.slice(2));
  const stampPath = `${output}.inputs-sha256`;
  const loaderFiles = await bundleLoader();
  buildHelpers();
  const kernelVersion = readFileSync(join(KERNEL, "VERSION"), "utf8").trim();
  const modulesDir = join(KERNEL, "lib/modules", kernelVersion);
  const modulesDep = readFileSync(join(modulesDir, "modules.dep"), "utf8");
  const wanted = expandModuleList(
    parseModulesDep(modulesDep).keys(),
    parseModuleList(readFileSync(join(ROOT, "initramfs/modules.txt"), "utf8")),
  );
  const builtin = new Set(
    parseModuleList(readFileSync(join(modulesDir, "modules.builtin"), "utf8")).map(moduleName),
  );
  const modules = moduleClosure(modulesDep, wanted, builtin);
  const firmware = firmwareFor(modules.map((mod) => join(modulesDir, mod)));
  requireTools();

  const inputs = sha256(
    [
      readFileSync(import.meta.filename),
      readFileSync(join(ROOT, "server/drivers/module-tree.ts")),
      ...loaderFiles.map((file) => file + sha256(readFileSync(join(LOADER_BUNDLE_DIR, file)))),
      ...C_HELPERS.map(({ name }) => readFileSync(helperBinary(name))),
      readFileSync(join(ROOT, "initramfs/init")),
      readFileSync(join(ROOT, "initramfs/udhcpc.script")),
      kernelVersion,
      modules.join("\n"),
      readFileSync(join(ROOT, "initramfs/firmware.txt")),
      readFileSync(join(ROOT, "build-scripts/node-icu.ts")),
      ...firmware.files.map((file) => file + sha256(readFileSync(join(FIRMWARE, file)))),
      sha256(readFileSync(NODE_BINARY)),
      sha256(readFileSync(BUSYBOX)),
      ...EXTRA_BINARIES.map((binary) => sha256(readFileSync(binary))),
      // The libraries too: a Debian update of one (libudev, libext2fs…) changes what goes in.
      ...[NODE_BINARY, ...EXTRA_BINARIES]
        .flatMap(sharedLibraries)
        .map(([linked, real]) => linked + sha256(readFileSync(real))),
      ...zstdNapiFiles().map((file) => file + sha256(readFileSync(join(ZSTD_NAPI, file)))),
    ]
      .map((part) => sha256(part))
      .join(""),
  );
  if (!force && existsSync(output) && existsSync(stampPath) && readFileSync(stampPath, "utf8") === inputs) {
    console.log(`[setup] initramfs up to date (${(statSync(output).size / 1e6).toFixed(1)} MB)`);
    return;
  }

  console.log(
    `[setup] building initramfs: kernel ${kernelVersion}, ${modules.length} modules, ` +
      `${firmware.files.length} firmware files, node ${process.version}`,
  );
  if (firmware.absent.length)
    console.log(`[setup] firmware no Debian package ships (left out): ${firmware.absent.join(" ")}`);
  const staging = `${output}.root`;
  rmSync(staging, { recursive: true, force: true });
  for (const dir of [
    "dev",
    "proc",
    "sys",
    "run",
    "tmp",
    "root",
    "etc",
    // mdadm looks for its config here (none is needed: the array is named on its command line).
    "etc/mdadm",
    "mnt",
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
  ]) {
    mkdirSync(join(staging, dir), { recursive: true });
  }
  copyInto(staging, "init", join(ROOT, "initramfs/init"), 0o755);
  copyInto(staging, "etc/bootwright/udhcpc.script", join(ROOT, "initramfs/udhcpc.script"), 0o755);
  copyInto(staging, "bin/busybox", BUSYBOX, 0o755);
  for (const file of loaderFiles)
    copyInto(staging, join("opt/bootwright", file), join(LOADER_BUNDLE_DIR, file), 0o644);
  for (const { name, installedAt } of C_HELPERS)
    copyInto(staging, installedAt.slice(1), helperBinary(name), 0o755);
  for (const file of zstdNapiFiles())
    copyInto(staging, join(ZSTD_NAPI_DEST, file), join(ZSTD_NAPI, file), 0o644);
  // Stripping Node's symbols takes ~12 MB off (still runs: vm-notes.md), trimming its ICU data ~8 MB more.
  mkdirSync(join(staging, "usr/bin"), { recursive: true });
  sh("strip", ["-o", join(staging, "usr/bin/node"), NODE_BINARY]);
  trimStagedNode(join(staging, "usr/bin/node"));
  for (const binary of [NODE_BINARY, ...EXTRA_BINARIES])
    for (const [linked, real] of sharedLibraries(binary)) copyInto(staging, linked.slice(1), real, 0o755);
  for (const binary of EXTRA_BINARIES) copyInto(staging, binary.slice(1), binary, 0o755);
  const moduleRoot = join(staging, "lib/modules", kernelVersion);
  // Secure Boot locks the kernel down: a module without Debian's signature would not load there.
  const unsigned = modules.filter((mod) => !isSignedModule(readFileSync(join(modulesDir, mod))));
  if (unsigned.length)
    throw new Error(`modules without a signature (Secure Boot would refuse them): ${unsigned.join(", ")}`);
  for (const mod of modules)
    copyInto(staging, join("lib/modules", kernelVersion, mod), join(modulesDir, mod), 0o644);
  for (const file of firmware.files)
    copyInto(staging, join("lib/firmware", file), join(FIRMWARE, file), 0o644);
  for (const file of ["modules.builtin", "modules.builtin.modinfo", "modules.order"]) {
    copyInto(staging, join("lib/modules", kernelVersion, file), join(modulesDir, file), 0o644);
  }
  // modules.dep/alias for just what we carry, so busybox modprobe resolves aliases and load order.
  sh("depmod", ["-b", staging, kernelVersion]);
  if (!existsSync(join(moduleRoot, "modules.alias"))) throw new Error("depmod wrote no modules.alias");

  // Reproducible archive: every mtime 0, names sorted bytewise, owner root, fixed inode numbers.
  sh("find", [staging, "-exec", "touch", "-h", "-d", "@0", "{}", "+"]);
  const names = sh("find", [".", "-mindepth", "1", "-print0"], { cwd: staging })
    .toString()
    .split("\0")
    .filter(Boolean)
    .sort()
    .join("\0");
  const cpio = sh(
    "cpio",
    ["--null", "--create", "--format=newc", "--reproducible", "--owner=0:0", "--quiet"],
    {
      cwd: staging,
      input: Buffer.from(names + "\0"),
    },
  );
  const compressed = sh("zstd", [...ZSTD_LEVEL, "-T0", "-q", "-c"], { input: cpio });
  const temp = `${output}.tmp`;
  writeFileSync(temp, compressed, { flush: true });
  renameSync(temp, output);
  writeFileSync(stampPath, inputs);
  rmSync(staging, { recursive: true, force: true });
  console.log(
    `[setup] initramfs built: ${(compressed.length / 1e6).toFixed(1)} MB compressed (${(cpio.length / 1e6).toFixed(1)} MB raw), ` +
      `sha256 ${sha256(compressed).slice(0, 16)}…, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

await main();
