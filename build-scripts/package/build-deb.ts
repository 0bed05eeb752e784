// `npm run package`: bootwright as a Debian package, built with dpkg-deb from a staging tree:
//   /usr/lib/bootwright/   the program, laid out like a checkout so the server finds what it reads beside
//                          its code (server/install-root.ts): dist/ (the bundle), bin/node (the runtime:
//                          Debian 12's nodejs is 18), node_modules/ (the production dependencies only:
//                          native addons, esbuild, and what the agent builder bundles), agent/ + protocol/
//                          (the agent builder's sources), ipxe-scripts/, build/ (the loader's kernel and
//                          initramfs; boot-files/ links to the programs Debian's ipxe, shim-signed and
//                          grub-efi-amd64-signed install)
//   /usr/bin/bootwright, /lib/systemd/system/bootwright.service, /usr/share/doc/bootwright/
// Usage: npm run package -- [--version V] [--out DIR] [--compression xz|gzip]   (default build/package/)
import {
  chmodSync,
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import * as z from "zod";
import { buildDist } from "../build-dist.js";
import { flagValue } from "../cli-args.js";
import { runText } from "../os-image/run.js";
import { PACKAGE_ROOT } from "../../server/install-root.js";
import { copyNodeModules, ModuleJson, type PackageLicence } from "./node-modules.js";

const ROOT = resolve(import.meta.dirname, "../..");
const HERE = import.meta.dirname;
const KERNEL = join(ROOT, "build/kernel/vmlinuz");
const INITRAMFS = join(ROOT, "build/initramfs.img");
export const DEFAULT_OUT_DIR = join(ROOT, "build/package");

/** The network boot programs the server's TFTP hands out, at the paths Debian's packages install them. */
const BOOT_FILES: Record<string, string> = {
  "undionly.kpxe": "/usr/lib/ipxe/undionly.kpxe",
  "ipxe.efi": "/usr/lib/ipxe/ipxe.efi",
  "snponly.efi": "/usr/lib/ipxe/snponly.efi",
  "shimx64.efi": "/usr/lib/shim/shimx64.efi.signed",
  "grubx64.efi": "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
  // Not served: the disk GRUB that `bootwright media build` puts on the rescue media's ESP.
  "disk-grubx64.efi": "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed",
};

/**
 * What the server runs and serves, beside the libraries of the Node runtime and the addons (computed by
 * dpkg-shlibdeps): dnsmasq for --dhcp, the boot programs above. dnsmasq-base is the binary without the
 * system service the dnsmasq package would start.
 */
const DEPENDS = ["passwd", "dnsmasq-base", "ipxe", "shim-signed", "grub-efi-amd64-signed"];
/**
 * UEFI HTTP boot's loader UKI is made with objcopy and systemd's EFI stub (server/site/uki.ts); the
 * rescue media with xorriso, isolinux (+ syslinux-common), mtools and dosfstools (build-scripts/media/).
 */
const RECOMMENDS = [
  "binutils",
  "systemd-boot-efi",
  "xorriso",
  "isolinux",
  "syslinux-common",
  "mtools",
  "dosfstools",
];
/** The IPMI power driver's client; PostgreSQL for a store shared by several servers. */
const SUGGESTS = ["ipmitool", "postgresql"];

const PackageJson = z.object({ version: z.string() });

export interface BuiltDeb {
  path: string;
  version: string;
  sizeBytes: number;
  installedKiB: number;
}

/** A tool's stdout; a failure is a CommandError with its exit code and stderr's tail. */
function sh(cmd: string, args: string[], cwd?: string): Promise<string> {
  return runText(cmd, args, cwd === undefined ? {} : { cwd });
}

function writeText(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** The agent builder's sources: every .ts under agent/ and protocol/ but tests and captured fixtures. */
function copySources(app: string): void {
  for (const dir of ["agent", "protocol"])
    cpSync(join(ROOT, dir), join(app, dir), {
      recursive: true,
      filter: (source) =>
        statSync(source).isDirectory()
          ? !source.endsWith("/fixtures")
          : source.endsWith(".ts") && !source.endsWith(".test.ts"),
    });
  cpSync(join(ROOT, "ipxe-scripts"), join(app, "ipxe-scripts"), { recursive: true });
}

function firstBytes(path: string, count: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(count);
    return head.subarray(0, readSync(fd, head, 0, count, 0));
  } finally {
    closeSync(fd);
  }
}

/** Modes as Debian expects them: directories 0755, files 0644, programs (ELF or #!) 0755. */
function normaliseModes(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) {
      chmodSync(path, 0o755);
      normaliseModes(path);
    } else {
      const head = firstBytes(path, 4);
      const program = head.toString("latin1") === "\x7fELF" || head.subarray(0, 2).toString() === "#!";
      // Shared objects (.node) are loaded, not run: 0644 like Debian's own libraries.
      chmodSync(path, program && !name.endsWith(".node") && stat.mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

/** Every dynamically linked ELF file under `dir` (the runtime and the addons; esbuild is static). */
async function dynamicElfFiles(dir: string): Promise<string[]> {
  return (await sh("find", [dir, "-type", "f", "(", "-name", "*.node", "-o", "-path", "*/bin/node", ")"]))
    .split("\n")
    .filter(Boolean)
    .sort();
}

/** The shared-library dependencies of those files, as dpkg-shlibdeps computes them for any package. */
async function libraryDepends(elfFiles: readonly string[]): Promise<string[]> {
  const work = mkdtempSync(join(tmpdir(), "bootwright-shlibdeps-"));
  try {
    writeText(
      join(work, "debian/control"),
      "Source: bootwright\n\nPackage: bootwright\nArchitecture: amd64\n",
    );
    const out = await sh("dpkg-shlibdeps", ["-O", ...elfFiles.map((f) => `-e${f}`)], work);
    const value = /shlibs:Depends=(.*)/.exec(out)?.[1];
    if (!value) throw new Error(`dpkg-shlibdeps gave no dependencies: ${out}`);
    return value.split(",").map((dep) => dep.trim());
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function copyright(modules: readonly PackageLicence[]): string {
  return [
    "bootwright: network-boot provisioning for bare metal.",
    "",
    "Copyright (C) 2026 the bootwright authors. No licence has been chosen for bootwright itself yet;",
    "it is distributed to its own sites only.",
    "",
    `The package carries the Node.js ${process.version} runtime (MIT; the licences of the libraries Node.js`,
    "embeds: https://github.com/nodejs/node/blob/main/LICENSE) and these npm packages, each with its",
    "licence text in its folder under /usr/lib/bootwright/node_modules/ or, for those bundled into",
    "/usr/lib/bootwright/dist/, in node_modules of the source tree:",
    "",
    ...modules.map((m) => `  ${m.name} ${m.version}: ${m.license}`),
    "",
    "On Debian systems the complete texts of the Apache License 2.0 and of other common licences are in",
    "/usr/share/common-licenses/.",
    "",
  ].join("\n");
}

/** The packages esbuild put into dist/ (bundled, so not in node_modules/), for the copyright file. */
function bundledModules(): PackageLicence[] {
  const pkg = z
    .object({ devDependencies: z.record(z.string(), z.string()) })
    .parse(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")));
  return ["commander", "fastify", "fastify-type-provider-zod", "pg", "pino", "yaml"]
    .filter((name) => name in pkg.devDependencies)
    .map((name) => {
      const info = ModuleJson.parse(
        JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")),
      );
      return { name: info.name, version: info.version, license: info.license ?? "see its folder" };
    });
}

async function changelog(version: string): Promise<Buffer> {
  const date = (await sh("date", ["-R", "-u"])).trim();
  const text = `bootwright (${version}) unstable; urgency=medium\n\n  * Built from the bootwright source tree.\n\n -- bootwright maintainers <bootwright@example.org>  ${date}\n`;
  return gzipSync(text, { level: 9 });
}

async function md5sums(stage: string): Promise<string> {
  const files = (await sh("find", [".", "-type", "f", "-not", "-path", "./DEBIAN/*"], stage))
    .split("\n")
    .filter(Boolean)
    .map((f) => f.slice(2))
    .sort();
  return files.length ? sh("md5sum", files, stage) : "";
}

export async function buildDeb(
  options: {
    version?: string | undefined;
    outDir?: string | undefined;
    /** xz (the default: smallest); gzip -1 builds in a fraction of the time (the tests). Not zstd: lintian refuses it. */
    compression?: "xz" | "gzip";
  } = {},
): Promise<BuiltDeb> {
  for (const file of [KERNEL, INITRAMFS])
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run setup first`);
  const pkg = PackageJson.parse(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")));
  const version = options.version ?? pkg.version;
  const outDir = options.outDir ?? DEFAULT_OUT_DIR;
  const stage = mkdtempSync(join(tmpdir(), "bootwright-deb-"));
  try {
    const app = join(stage, PACKAGE_ROOT);
    mkdirSync(app, { recursive: true });
    writeText(
      join(app, "package.json"),
      `${JSON.stringify({ name: "bootwright", version, private: true, type: "module" }, null, 2)}\n`,
    );
    await buildDist(join(app, "dist"));
    copySources(app);
    const modules = copyNodeModules(ROOT, app);
    mkdirSync(join(app, "bin"));
    await sh("strip", ["-o", join(app, "bin/node"), process.execPath]);
    for (const addon of await dynamicElfFiles(join(app, "node_modules")))
      await sh("strip", ["--strip-unneeded", addon]);
    mkdirSync(join(app, "build/kernel"), { recursive: true });
    copyFileSync(KERNEL, join(app, "build/kernel/vmlinuz"));
    copyFileSync(INITRAMFS, join(app, "build/initramfs.img"));
    mkdirSync(join(app, "build/boot-files"));
    // Relative, as Debian wants links within /usr: ../../../ipxe/… from /usr/lib/bootwright/build/boot-files.
    for (const [name, target] of Object.entries(BOOT_FILES))
      symlinkSync(
        relative(join(PACKAGE_ROOT, "build/boot-files"), target),
        join(app, "build/boot-files", name),
      );

    writeText(join(stage, "usr/bin/bootwright"), readFileSync(join(HERE, "bootwright.sh"), "utf8"), 0o755);
    writeText(
      join(stage, "lib/systemd/system/bootwright.service"),
      readFileSync(join(HERE, "bootwright.service"), "utf8"),
    );
    const doc = join(stage, "usr/share/doc/bootwright");
    writeText(join(doc, "copyright"), copyright([...bundledModules(), ...modules]));
    mkdirSync(doc, { recursive: true });
    writeFileSync(join(doc, "changelog.gz"), await changelog(version));
    writeFileSync(join(doc, "README.md.gz"), gzipSync(readFileSync(join(ROOT, "README.md")), { level: 9 }));
    writeText(
      join(stage, "usr/share/lintian/overrides/bootwright"),
      readFileSync(join(HERE, "lintian-overrides"), "utf8"),
    );
    normaliseModes(join(stage, "usr"));
    normaliseModes(join(stage, "lib"));
    chmodSync(join(app, "bin/node"), 0o755);

    const debian = join(stage, "DEBIAN");
    mkdirSync(debian);
    for (const script of ["postinst", "prerm", "postrm"])
      writeText(join(debian, script), readFileSync(join(HERE, script), "utf8"), 0o755);
    writeText(join(debian, "md5sums"), await md5sums(stage));
    const installedKiB = Number((await sh("du", ["-s", "-k", "--exclude=DEBIAN", stage])).split(/\s/)[0]);
    const depends = [...(await libraryDepends(await dynamicElfFiles(app))), ...DEPENDS];
    writeText(
      join(debian, "control"),
      [
        "Package: bootwright",
        `Version: ${version}`,
        "Architecture: amd64",
        "Maintainer: bootwright maintainers <bootwright@example.org>",
        `Installed-Size: ${installedKiB}`,
        `Depends: ${depends.join(", ")}`,
        `Recommends: ${RECOMMENDS.join(", ")}`,
        `Suggests: ${SUGGESTS.join(", ")}`,
        "Section: admin",
        "Priority: optional",
        "Description: network-boot provisioning for bare metal",
        " bootwright boots machines over the network (PXE, iPXE, UEFI HTTP boot, Secure",
        " Boot), takes their inventory, and installs them by policy: RAID, partitions,",
        " images streamed to disk, maintenance swaps. One server process with an",
        " embedded SQLite store (or PostgreSQL), a CLI and an HTTP API.",
        "",
      ].join("\n"),
    );

    mkdirSync(outDir, { recursive: true });
    const path = join(outDir, `bootwright_${version}_amd64.deb`);
    const compression = options.compression ?? "xz";
    // gzip at its fastest level for tests: most of the bytes (Node, the zstd initramfs) barely shrink.
    const level = compression === "gzip" ? ["-z1"] : [];
    await sh("dpkg-deb", ["--root-owner-group", `-Z${compression}`, ...level, "--build", stage, path]);
    return { path, version, sizeBytes: statSync(path).size, installedKiB };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  const compression = flagValue(process.argv, "--compression") ?? "xz";
  if (compression !== "xz" && compression !== "gzip") throw new Error("--compression is xz or gzip");
  const started = performance.now();
  const built = await buildDeb({
    version: flagValue(process.argv, "--version"),
    outDir: flagValue(process.argv, "--out"),
    compression,
  });
  process.stderr.write(
    `[package] ${built.path}: ${(built.sizeBytes / 1e6).toFixed(1)} MB (${(built.installedKiB / 1024).toFixed(0)} MiB installed) in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
}
