// The debian OS: a debootstrapped bookworm (minbase + kernel + systemd + udev + wget) made bootable
// from a GPT disk, with DHCP through systemd-networkd and a call-home unit. Two cached stages under
// build/os-cache/: the debootstrap tree (minutes, network) and the customised root file system
// (seconds); the image builder turns the latter into an ext4 partition.
import { createHash, randomUUID } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { firstDeb822Uri } from "./layout.js";
import { run } from "./run.js";
import { removeTree } from "./tree.js";

const SOURCES = "/etc/apt/sources.list.d/debian.sources";
const SUITE = "bookworm";
/** udev: /dev/disk/by-partlabel and predictable NIC names; zstd: initramfs-tools' default compressor. */
const INCLUDE = ["linux-image-amd64", "systemd-sysv", "udev", "wget", "zstd"];
const DEBOOTSTRAP_TIMEOUT_MS = 30 * 60_000;

/** Fixed so the kernel command line can name the root partition (root=PARTUUID=…). */
export const DEBIAN_ROOT_PARTUUID = "b0077a1c-0d15-4a5e-8f00-000000000003";
export const DEBIAN_ROOT_FS_UUID = "b0077a1c-0d15-4a5e-8f00-0000000000f3";
const CALLHOME_SCRIPT = join(import.meta.dirname, "callhome.sh");

/**
 * What Debian's initramfs must carry to find root: virtio (QEMU), SATA/NVMe, the disk controllers
 * servers boot from (the SAS and RAID HBAs of Broadcom/LSI, HPE Smart Array, Microchip/Adaptec, Areca,
 * 3ware, Marvell, Intel SCU, and VMware's PVSCSI), ext4 and the crc32c its metadata checksums need.
 * The image is written byte for byte to any machine, so it cannot know its controller: every boot HBA
 * goes in. MODULES=list instead of `most` (which adds Fibre Channel, iSCSI and every PATA chip): a
 * ~9 MB initrd, not ~30 MB, which TCG guests unpack seconds faster (and the ESP holds it twice).
 * They go in through a hook (manual_add_modules), not /etc/initramfs-tools/modules, which would also
 * load every one of them at boot: the initramfs's udev loads the one the machine's controller matches.
 * Loading every one of them cost 1.8 s of each boot under TCG ("Loading essential drivers").
 */
export const INITRAMFS_MODULES = [
  "virtio_pci",
  "virtio_blk",
  "virtio_scsi",
  "sd_mod",
  "ahci",
  "ata_piix",
  "sata_nv",
  "sata_mv",
  "sata_sil24",
  "nvme",
  // NVMe behind Intel's Volume Management Device. mkinitramfs adds it for nvme itself, but only for
  // modules that are in the initrd before the hooks run, and ours is a hook.
  "vmd",
  "megaraid_sas",
  "mpt3sas",
  "mpi3mr",
  "mptsas",
  "mptspi",
  "hpsa",
  "smartpqi",
  "aacraid",
  "arcmsr",
  "3w_9xxx",
  "3w_sas",
  "isci",
  "mvsas",
  "pm80xx",
  "sym53c8xx",
  "vmw_pvscsi",
  "ext4",
  "crc32c_generic",
];

/** Loaded at every boot whatever the hardware: the root file system's own (no device to match them). */
const INITRAMFS_PRELOAD = ["ext4", "crc32c_generic"];

/** An initramfs-tools hook: INITRAMFS_MODULES and their dependencies go into the initrd, unloaded. */
const INITRAMFS_HOOK = `#!/bin/sh
# bootwright: the drivers that may hold root, carried in the initrd; udev loads the one that matches.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
for module in ${INITRAMFS_MODULES.join(" ")}; do manual_add_modules "$module"; done
`;

/** Kernel module trees no server image needs (~120 MB of 395): sound, cameras, radios, staging. */
const PRUNED_MODULE_DIRS = [
  "kernel/sound",
  "kernel/drivers/media",
  "kernel/drivers/staging",
  "kernel/drivers/infiniband",
  "kernel/drivers/net/wireless",
  "kernel/net/wireless",
  "kernel/net/mac80211",
  "kernel/drivers/bluetooth",
  "kernel/net/bluetooth",
  "kernel/drivers/iio",
  "kernel/drivers/isdn",
  "kernel/drivers/comedi",
];

/** Documentation, translations and apt's caches: rebuilt by `apt-get update` when someone needs them. */
const PRUNED_PATHS = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
  "usr/share/lintian",
  "var/lib/apt/lists",
  "var/cache/apt",
  "var/cache/debconf/templates.dat-old",
];

/** Keeps later `apt-get install`s from bringing the pruned files back. */
const DPKG_NODOC = `# bootwright: the image ships without documentation or translations.
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
`;

const NETWORK_UNIT = `# bootwright: DHCP (IPv4) on every wired NIC; udev names them en*, eth* without udev's rules.
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
`;

const CALLHOME_UNIT = `# bootwright: tell the provisioning server this OS is up (reads the bootwright-marker partition), then
# report health figures for as long as it runs (simple, not oneshot: it never ends).
[Unit]
Description=bootwright call-home and health reporter
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
Restart=on-failure
RestartSec=10
ExecStart=/usr/local/sbin/bootwright-callhome debian
# Its lines are the console contract (tests match them): straight to the console, unprefixed.
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console

[Install]
WantedBy=multi-user.target
`;

const FSTAB = `# bootwright: root by its fixed partition UUID (the disk layout sets it).
PARTUUID=${DEBIAN_ROOT_PARTUUID} / ext4 errors=remount-ro 0 1
`;

export interface DebianRootfs {
  /** The customised root tree (becomes the ext4 partition). */
  root: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  /** Changes whenever the tree is rebuilt: part of the image's inputs hash. */
  id: string;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The mirror debootstrap uses: the host's own apt source (never a host name in our code). */
export function debianMirror(): string {
  let text: string;
  try {
    text = readFileSync(SOURCES, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${SOURCES} for the debootstrap mirror`, { cause: err });
  }
  const uri = firstDeb822Uri(text);
  if (!uri) throw new Error(`${SOURCES} has no URIs: line to take the debootstrap mirror from`);
  return uri;
}

function bootstrapInputs(cacheDir: string) {
  const mirror = debianMirror();
  const args = ["--variant=minbase", `--include=${INCLUDE.join(",")}`, SUITE];
  const dir = join(cacheDir, "debian-bootstrap");
  return { args, mirror, key: sha256(JSON.stringify({ args, mirror })), dir, stamp: `${dir}.inputs-sha256` };
}

/** The debootstrap tree when it is there and up to date (its stamp is written last), else undefined. */
export function readyBootstrapTree(cacheDir: string): { dir: string; key: string } | undefined {
  const { key, dir, stamp } = bootstrapInputs(cacheDir);
  return existsSync(dir) && existsSync(stamp) && readFileSync(stamp, "utf8") === key
    ? { dir, key }
    : undefined;
}

/** Stage 1: debootstrap, cached by its arguments (suite, packages, mirror). Also the package test's base. */
export async function bootstrapTree(
  cacheDir: string,
  log: (line: string) => void,
): Promise<{ dir: string; key: string }> {
  const ready = readyBootstrapTree(cacheDir);
  if (ready) return ready;
  const { args, mirror, key, dir, stamp } = bootstrapInputs(cacheDir);

  log(`[os-image] debootstrap ${SUITE} (minbase + ${INCLUDE.join(", ")}): a few minutes`);
  const started = Date.now();
  const temp = `${dir}.tmp`;
  await removeTree(temp);
  await removeTree(dir);
  mkdirSync(dirname(temp), { recursive: true });
  // The downloaded packages stay in build/ (not part of the key): a tree made again on this machine,
  // for a new package list or after `rm -rf build/os-cache/debian-bootstrap`, downloads only what changed.
  const debs = join(cacheDir, "debootstrap-debs");
  mkdirSync(debs, { recursive: true });
  await run("debootstrap", [`--cache-dir=${resolve(debs)}`, ...args, temp, mirror], {
    timeoutMs: DEBOOTSTRAP_TIMEOUT_MS,
  });
  renameSync(temp, dir);
  writeFileSync(stamp, key);
  log(`[os-image] debootstrap done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { dir, key };
}

function writeFile(root: string, path: string, content: string, mode = 0o644): void {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true });
  rmSync(target, { force: true });
  writeFileSync(target, content);
  chmodSync(target, mode);
}

function chroot(root: string, argv: string[]): Promise<Buffer> {
  // No /proc or /sys in the chroot: these tools do not need them, and nothing gets mounted under build/.
  return run("chroot", [root, ...argv], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" } });
}

function onlyEntry(dir: string, prefix: string): string {
  const found = readdirSync(dir).filter(
    (name) => name.startsWith(prefix) && !/\.(dpkg-\w+|new|old|bak)$/.test(name),
  );
  if (found.length !== 1 || !found[0])
    throw new Error(`${dir}: expected one ${prefix}*, found ${found.join(", ") || "none"}`);
  return found[0];
}

/** Stage 2: a copy of the debootstrap tree configured, pruned and with a small initramfs. */
export async function debianRootfs(cacheDir: string, log: (line: string) => void): Promise<DebianRootfs> {
  const bootstrap = await bootstrapTree(cacheDir, log);
  const key = sha256(
    JSON.stringify({
      bootstrap: bootstrap.key,
      bootstrapStamp: readFileSync(`${bootstrap.dir}.inputs-sha256`, "utf8"),
      self: sha256(readFileSync(import.meta.filename, "utf8")),
      callhome: sha256(readFileSync(CALLHOME_SCRIPT, "utf8")),
    }),
  );
  const root = join(cacheDir, "debian-rootfs");
  const bootDir = `${root}.boot`;
  const stamp = `${root}.inputs-sha256`;
  const idFile = `${root}.id`;
  const result = (): DebianRootfs => {
    const kernelVersion = readFileSync(join(bootDir, "VERSION"), "utf8").trim();
    return {
      root,
      kernel: join(bootDir, "vmlinuz"),
      initrd: join(bootDir, "initrd.img"),
      kernelVersion,
      id: readFileSync(idFile, "utf8"),
    };
  };
  if ([root, bootDir, idFile, stamp].every((p) => existsSync(p)) && readFileSync(stamp, "utf8") === key)
    return result();

  log("[os-image] customising the debian root file system");
  const temp = `${root}.tmp`;
  await removeTree(temp);
  await run("cp", ["-a", bootstrap.dir, temp]);
  const modulesRoot = join(temp, "usr/lib/modules");
  const kernelVersion = onlyEntry(modulesRoot, "");

  for (const dir of PRUNED_MODULE_DIRS)
    rmSync(join(modulesRoot, kernelVersion, dir), { recursive: true, force: true });
  await chroot(temp, ["depmod", "-a", kernelVersion]);
  writeFile(
    temp,
    "etc/initramfs-tools/conf.d/bootwright.conf",
    "# bootwright: only the drivers named in ../modules and ../hooks/bootwright-root-drivers\nMODULES=list\n",
  );
  writeFile(
    temp,
    "etc/initramfs-tools/modules",
    `# bootwright: loaded at every boot (the rest: ../hooks/bootwright-root-drivers)\n${INITRAMFS_PRELOAD.join("\n")}\n`,
  );
  writeFile(temp, "etc/initramfs-tools/hooks/bootwright-root-drivers", INITRAMFS_HOOK, 0o755);
  await chroot(temp, ["update-initramfs", "-u", "-k", kernelVersion]);

  // The kernel and initrd boot from the ESP; the root file system does not need a second copy.
  const bootTemp = `${bootDir}.tmp`;
  rmSync(bootTemp, { recursive: true, force: true });
  mkdirSync(bootTemp, { recursive: true });
  copyFileSync(join(temp, "boot", `vmlinuz-${kernelVersion}`), join(bootTemp, "vmlinuz"));
  copyFileSync(join(temp, "boot", `initrd.img-${kernelVersion}`), join(bootTemp, "initrd.img"));
  writeFileSync(join(bootTemp, "VERSION"), `${kernelVersion}\n`);
  for (const name of readdirSync(join(temp, "boot")))
    rmSync(join(temp, "boot", name), { recursive: true, force: true });

  writeFile(temp, "etc/fstab", FSTAB);
  writeFile(temp, "etc/hostname", "bootwright-debian\n");
  writeFile(
    temp,
    "etc/hosts",
    "127.0.0.1 localhost\n127.0.1.1 bootwright-debian\n::1 localhost ip6-localhost ip6-loopback\n",
  );
  // debootstrap copied the build host's resolver; networkd (no resolved here) leaves it to DHCP hooks.
  writeFile(temp, "etc/resolv.conf", "");
  // Empty: systemd makes a new one on first boot. A shared id would give every machine the same DHCP DUID.
  writeFile(temp, "etc/machine-id", "");
  writeFile(temp, "etc/dpkg/dpkg.cfg.d/bootwright-nodoc", DPKG_NODOC);
  writeFile(temp, "etc/systemd/network/50-bootwright-dhcp.network", NETWORK_UNIT);
  writeFile(temp, "usr/local/sbin/bootwright-callhome", readFileSync(CALLHOME_SCRIPT, "utf8"), 0o755);
  writeFile(temp, "etc/systemd/system/bootwright-callhome.service", CALLHOME_UNIT);
  await chroot(temp, ["systemctl", "enable", "systemd-networkd.service", "bootwright-callhome.service"]);
  // An empty machine-id means "first boot": systemd-firstboot would then prompt on the console and wait.
  // The apt timers only add noise to a short-lived test boot and fetch nothing useful without lists.
  for (const unit of ["systemd-firstboot.service", "apt-daily.timer", "apt-daily-upgrade.timer"]) {
    const link = join(temp, "etc/systemd/system", unit);
    rmSync(link, { force: true });
    symlinkSync("/dev/null", link);
  }

  for (const path of PRUNED_PATHS) {
    const target = join(temp, path);
    if (!existsSync(target)) continue;
    // Directories are emptied, not removed: their packages own them and expect them to exist.
    if (statSync(target).isDirectory()) {
      for (const name of readdirSync(target)) rmSync(join(target, name), { recursive: true, force: true });
    } else rmSync(target);
  }
  // Logs of the build itself; the directories stay (apt and journald expect them).
  await run("find", [join(temp, "var/log"), "-type", "f", "-delete"]);
  await removeTree(root);
  rmSync(bootDir, { recursive: true, force: true });
  renameSync(temp, root);
  renameSync(bootTemp, bootDir);
  writeFileSync(idFile, randomUUID());
  writeFileSync(stamp, key);
  return result();
}
