// Builds a bootable whole-disk OS image that "calls home" to the provisioning server at first boot:
// `tiny` (our kernel + a busybox initrd, boots in seconds: the fast test image) or `debian`
// (debootstrapped bookworm with systemd). Output: build/images/<kind>.raw.zst + <kind>.json.
// GPT: p1 ESP (syslinux for BIOS; for UEFI the signed chain, so Secure Boot machines boot it too: shim
// as \EFI\BOOT\BOOTX64.EFI → Debian's signed GRUB → Debian's signed kernel), p2 bootwright-marker
// (1 MiB), p3 root (debian).
// Cached: skipped when the inputs' hash matches <kind>.raw.zst.inputs-sha256; --force rebuilds the
// image but keeps build/os-cache/ (the debootstrap tree): delete that directory to redo it. Usage:
//   npx tsx build-scripts/build-os-image.ts --kind tiny|debian [--out DIR] [--force]
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import {
  bootstrapTree,
  debianRootfs,
  readyBootstrapTree,
  DEBIAN_ROOT_FS_UUID,
  DEBIAN_ROOT_PARTUUID,
} from "./os-image/debian.js";
import {
  assembleDisk,
  compress,
  GPTMBR_BIN,
  makeExt4Image,
  makeFatImage,
  sha256File,
  type FileCopy,
} from "./os-image/disk.js";
import { withLock } from "./os-image/lock.js";
import { layoutDisk, MiB, PARTITION_TYPE, type PartitionSpec } from "./os-image/layout.js";
import { BUSYBOX, buildTinyInitrd, kernelTree, tinyModuleFiles, UDHCPC_SCRIPT } from "./os-image/tiny.js";

import { MARKER_PARTITION_NAME } from "../agent/inventory/marker.js";
import { flagValue } from "./cli-args.js";

export type OsKind = "tiny" | "debian";
export const OS_KINDS: readonly OsKind[] = ["tiny", "debian"];

/** The partition the installer writes its marker JSON into and the OS reads at boot: the loader's own name for it. */
export { MARKER_PARTITION_NAME };

export interface OsImagePartition {
  /** GPT partition name: esp, bootwright-marker, root. */
  name: string;
  startBytes: number;
  sizeBytes: number;
}

/** build/images/<kind>.json */
export interface OsImageManifest {
  kind: OsKind;
  rawBytes: number;
  rawSha256: string;
  zstSha256: string;
  partitions: OsImagePartition[];
}

export interface OsImagePaths {
  zst: string;
  manifest: string;
  /** sha256 of everything the image is made from; the build is skipped when it matches. */
  stamp: string;
}

export interface BuildOsImageOptions {
  kind: OsKind;
  /** Default build/images. */
  outDir?: string;
  /** Rebuild even when the inputs stamp matches (the debootstrap cache is still used). */
  force?: boolean;
  log?: (line: string) => void;
}

export interface BuiltOsImage {
  paths: OsImagePaths;
  manifest: OsImageManifest;
  /** False when the cached image was up to date. */
  built: boolean;
  seconds: number;
}

const ROOT = resolve(import.meta.dirname, "..");
const BUILD = join(ROOT, "build");
export const DEFAULT_IMAGES_DIR = join(BUILD, "images");
/** The debootstrap tree and customised debian root live here, shared by every --out. */
const CACHE_DIR = join(BUILD, "os-cache");
const OS_IMAGE_SRC = join(import.meta.dirname, "os-image");

/** Fixed GUIDs: the same inputs give the same disk. */
const DISK_UUID: Record<OsKind, string> = {
  tiny: "b0077a1c-0d15-4a5e-8f00-0000000000d1",
  debian: "b0077a1c-0d15-4a5e-8f00-0000000000d2",
};
const ESP_PARTUUID = "b0077a1c-0d15-4a5e-8f00-000000000001";
const MARKER_PARTUUID = "b0077a1c-0d15-4a5e-8f00-000000000002";
/** A cold debian build (debootstrap) takes minutes; a second builder waits for it rather than clash. */
const LOCK_WAIT_MS = 60 * 60_000;
/** FAT32 needs ≥ 65525 clusters: with 512-byte clusters that is ~33 MiB. */
const ESP_MIN_BYTES = 40 * MiB;
/** Microsoft-signed shim and Debian-signed GRUB (for disks), fetched beside the network boot programs. */
const SHIM = join(BUILD, "boot-files/shimx64.efi");
const DISK_GRUB = join(BUILD, "boot-files/disk-grubx64.efi");

export function osImagePaths(kind: OsKind, outDir = DEFAULT_IMAGES_DIR): OsImagePaths {
  const zst = join(outDir, `${kind}.raw.zst`);
  return { zst, manifest: join(outDir, `${kind}.json`), stamp: `${zst}.inputs-sha256` };
}

/** Host files the build needs, and the Debian package that ships each (build-scripts/setup.sh installs them). */
const HOST_REQUIREMENTS: { path: string; pkg: string; kinds?: OsKind[] }[] = [
  { path: GPTMBR_BIN, pkg: "syslinux-common" },
  { path: "/usr/bin/syslinux", pkg: "syslinux" },
  { path: SHIM, pkg: "shim-signed (build-scripts/fetch-boot-files.sh)" },
  { path: DISK_GRUB, pkg: "grub-efi-amd64-signed (build-scripts/fetch-boot-files.sh)" },
  { path: "/usr/bin/mcopy", pkg: "mtools" },
  { path: "/usr/sbin/mkfs.fat", pkg: "dosfstools" },
  { path: "/usr/sbin/sfdisk", pkg: "fdisk" },
  { path: "/usr/bin/objcopy", pkg: "binutils" },
  { path: "/usr/bin/zstd", pkg: "zstd" },
  { path: BUSYBOX, pkg: "busybox-static", kinds: ["tiny"] },
  { path: "/usr/bin/cpio", pkg: "cpio", kinds: ["tiny"] },
  { path: "/usr/sbin/debootstrap", pkg: "debootstrap", kinds: ["debian"] },
  { path: "/usr/sbin/mke2fs", pkg: "e2fsprogs", kinds: ["debian"] },
];

function requireHostTools(kind: OsKind): void {
  const missing = HOST_REQUIREMENTS.filter(
    (r) => (!r.kinds || r.kinds.includes(kind)) && !existsSync(r.path),
  );
  if (missing.length)
    throw new Error(
      `building the ${kind} OS image needs ${missing.map((r) => `${r.path} (apt: ${r.pkg})`).join(", ")}: ` +
        "run build-scripts/setup.sh",
    );
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Our own sources: any change to the builder, the scripts or the init rebuilds the image. */
function builderSources(): (string | Buffer)[] {
  const files = readdirSync(OS_IMAGE_SRC)
    .filter((name) => !name.endsWith(".test.ts"))
    .sort()
    .map((name) => join(OS_IMAGE_SRC, name));
  return [
    import.meta.filename,
    join(import.meta.dirname, "../server/drivers/module-tree.ts"),
    ...files,
    GPTMBR_BIN,
    SHIM,
    DISK_GRUB,
    "/usr/bin/syslinux",
  ].map((path) => `${path}:${sha256(readFileSync(path))}`);
}

interface BootFiles {
  kernel: string;
  initrd: string;
  kernelVersion: string;
  cmdline: string;
  /** Inputs beyond the builder's sources. */
  inputs: string[];
}

const CONSOLE = "console=ttyS0,115200n8";

async function bootFiles(
  kind: OsKind,
  work: string,
  log: (line: string) => void,
): Promise<BootFiles & { root?: string }> {
  switch (kind) {
    case "tiny": {
      const kernel = kernelTree(join(BUILD, "kernel"));
      if (!existsSync(kernel.vmlinuz))
        throw new Error(`${kernel.vmlinuz} is missing: run build-scripts/fetch-kernel.sh`);
      const initrd = join(work, "initrd.img");
      return {
        kernel: kernel.vmlinuz,
        initrd,
        kernelVersion: kernel.version,
        cmdline: `${CONSOLE} quiet`,
        inputs: [
          kernel.version,
          sha256(readFileSync(kernel.vmlinuz)),
          sha256(readFileSync(BUSYBOX)),
          sha256(readFileSync(UDHCPC_SCRIPT)),
          tinyModuleFiles(kernel).join(","),
        ],
      };
    }
    case "debian": {
      const rootfs = await debianRootfs(CACHE_DIR, log);
      return {
        kernel: rootfs.kernel,
        initrd: rootfs.initrd,
        kernelVersion: rootfs.kernelVersion,
        cmdline: `root=PARTUUID=${DEBIAN_ROOT_PARTUUID} rw ${CONSOLE} quiet`,
        inputs: [rootfs.id],
        root: rootfs.root,
      };
    }
  }
}

function syslinuxConfig(cmdline: string): string {
  // SERIAL: syslinux's own output on ttyS0 too; PROMPT 0 + TIMEOUT 0: boot the one entry at once.
  return [
    "SERIAL 0 115200",
    "DEFAULT bootwright",
    "PROMPT 0",
    "TIMEOUT 0",
    "LABEL bootwright",
    "  LINUX /vmlinuz",
    "  INITRD /initrd.img",
    `  APPEND ${cmdline}`,
    "",
  ].join("\n");
}

/**
 * GRUB's configuration on the ESP: the kernel and initrd beside syslinux's. Debian's signed GRUB reads
 * it from its prefix (\EFI\debian) or from beside itself; both get a copy.
 */
function grubConfig(cmdline: string): string {
  return [
    "set timeout=0",
    "search --no-floppy --label BOOTWRIGHT --set=root",
    `linux /vmlinuz ${cmdline}`,
    "initrd /initrd.img",
    "boot",
    "",
  ].join("\n");
}

/** Builds (or finds up to date) the `kind` image; waits while another process builds one. */
export async function buildOsImage(options: BuildOsImageOptions): Promise<BuiltOsImage> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  requireHostTools(options.kind);
  mkdirSync(CACHE_DIR, { recursive: true });
  return withLock(join(CACHE_DIR, "build.lock"), LOCK_WAIT_MS, log, () => buildLocked(options, log, started));
}

/**
 * The debootstrapped bookworm tree the debian image starts from (made first when missing), for other uses
 * that need a Debian system to install into (test-vm/package.test.ts mounts it read-only under overlayfs).
 * Returns the tree and its inputs' hash.
 */
export async function debianBootstrapTree(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<{ dir: string; key: string }> {
  // Up to date: no need to wait behind an image build that holds the lock for minutes.
  const ready = readyBootstrapTree(CACHE_DIR);
  if (ready) return ready;
  mkdirSync(CACHE_DIR, { recursive: true });
  return withLock(join(CACHE_DIR, "build.lock"), LOCK_WAIT_MS, log, () => bootstrapTree(CACHE_DIR, log));
}

async function buildLocked(
  options: BuildOsImageOptions,
  log: (line: string) => void,
  started: number,
): Promise<BuiltOsImage> {
  const { kind } = options;
  const outDir = resolve(options.outDir ?? DEFAULT_IMAGES_DIR);
  const paths = osImagePaths(kind, outDir);
  mkdirSync(outDir, { recursive: true });
  const work = join(outDir, `${kind}.work`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const boot = await bootFiles(kind, work, log);
    const inputs = sha256([kind, ...builderSources(), ...boot.inputs].map((part) => sha256(part)).join(""));
    if (
      !options.force &&
      existsSync(paths.zst) &&
      existsSync(paths.manifest) &&
      existsSync(paths.stamp) &&
      readFileSync(paths.stamp, "utf8") === inputs
    ) {
      const manifest = JSON.parse(readFileSync(paths.manifest, "utf8")) as OsImageManifest;
      log(`[os-image] ${kind} up to date (${(statSync(paths.zst).size / 1e6).toFixed(1)} MB)`);
      return { paths, manifest, built: false, seconds: (performance.now() - started) / 1000 };
    }

    log(`[os-image] building ${kind} (kernel ${boot.kernelVersion})`);
    if (kind === "tiny") await buildTinyInitrd(kernelTree(join(BUILD, "kernel")), boot.initrd);
    const cfg = join(work, "syslinux.cfg");
    writeFileSync(cfg, syslinuxConfig(boot.cmdline));
    const grubCfg = join(work, "grub.cfg");
    writeFileSync(grubCfg, grubConfig(boot.cmdline));
    const espFiles: FileCopy[] = [
      { src: boot.kernel, dest: "vmlinuz" },
      { src: boot.initrd, dest: "initrd.img" },
      { src: cfg, dest: "syslinux.cfg" },
      { src: SHIM, dest: "EFI/BOOT/BOOTX64.EFI" },
      { src: DISK_GRUB, dest: "EFI/BOOT/grubx64.efi" },
      { src: grubCfg, dest: "EFI/BOOT/grub.cfg" },
      { src: grubCfg, dest: "EFI/debian/grub.cfg" },
    ];
    const espContent = espFiles.reduce((sum, f) => sum + statSync(f.src).size, 0);
    // 10% + 4 MiB for FAT tables, directories and syslinux; whole MiB for the partition.
    const espBytes = Math.max(ESP_MIN_BYTES, Math.ceil((espContent * 1.1 + 4 * MiB) / MiB) * MiB);
    const esp = join(work, "esp.img");
    await makeFatImage(esp, espBytes, espFiles, {
      label: "BOOTWRIGHT",
      volumeId: "B0077A1C",
      syslinux: true,
    });

    const specs: PartitionSpec[] = [
      // LegacyBIOSBootable: syslinux's gptmbr.bin boots the partition that has it.
      {
        name: "esp",
        sizeBytes: espBytes,
        type: PARTITION_TYPE.esp,
        uuid: ESP_PARTUUID,
        attrs: ["LegacyBIOSBootable"],
      },
      { name: MARKER_PARTITION_NAME, sizeBytes: MiB, type: PARTITION_TYPE.linuxData, uuid: MARKER_PARTUUID },
    ];
    const contents = new Map([["esp", esp]]);
    if (boot.root) {
      const rootImage = join(work, "root.img");
      const rootBytes = await makeExt4Image(rootImage, boot.root, {
        label: "root",
        uuid: DEBIAN_ROOT_FS_UUID,
      });
      specs.push({
        name: "root",
        sizeBytes: rootBytes,
        type: PARTITION_TYPE.linuxRootX86_64,
        uuid: DEBIAN_ROOT_PARTUUID,
      });
      contents.set("root", rootImage);
    }
    const layout = layoutDisk(DISK_UUID[kind], specs);
    const raw = join(work, `${kind}.raw`);
    await assembleDisk(raw, layout, contents);

    // No stamp while the outputs change: a crash between the renames below must mean "rebuild".
    rmSync(paths.stamp, { force: true });
    const zstTemp = `${paths.zst}.tmp`;
    await compress(raw, zstTemp);
    const manifest: OsImageManifest = {
      kind,
      rawBytes: layout.sizeBytes,
      rawSha256: await sha256File(raw),
      zstSha256: await sha256File(zstTemp),
      partitions: layout.partitions.map(({ name, startBytes, sizeBytes }) => ({
        name,
        startBytes,
        sizeBytes,
      })),
    };
    renameSync(zstTemp, paths.zst);
    writeFileSync(`${paths.manifest}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(`${paths.manifest}.tmp`, paths.manifest);
    writeFileSync(`${paths.stamp}.tmp`, inputs);
    renameSync(`${paths.stamp}.tmp`, paths.stamp);
    const seconds = (performance.now() - started) / 1000;
    log(
      `[os-image] ${kind} built: ${(manifest.rawBytes / 1e6).toFixed(1)} MB raw, ` +
        `${(statSync(paths.zst).size / 1e6).toFixed(1)} MB zstd, ${seconds.toFixed(1)} s`,
    );
    return { paths, manifest, built: true, seconds };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[]): BuildOsImageOptions {
  const value = (flag: string): string | undefined => flagValue(argv, flag);
  const kind = value("--kind");
  if (kind !== "tiny" && kind !== "debian")
    throw new Error(`--kind must be one of ${OS_KINDS.join(", ")} (got ${kind ?? "nothing"})`);
  const outDir = value("--out");
  return { kind, force: argv.includes("--force"), ...(outDir ? { outDir } : {}) };
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  try {
    await buildOsImage(parseArgs(process.argv.slice(2)));
  } catch (err) {
    process.stderr.write(`[os-image] failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
