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

// After networkd, not network-online.target: systemd-networkd-wait-online waits for every managed link
// (a server's second, uncabled NIC holds it up to 2 minutes), and under TCG its own start cost ~0.5 s of
// each boot. The script waits for the first IPv4 route itself, then retries until the server answers.
const CALLHOME_UNIT = `# bootwright: tell the provisioning server this OS is up (reads the bootwright-marker partition), then
# report health figures for as long as it runs (simple, not oneshot: it never ends).
[Unit]
Description=bootwright call-home and health reporter
Wants=systemd-networkd.service
After=systemd-networkd.service

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

/**
 * Units masked in the image: what a server that boots to its call home does not use, each a process (or a
 * mount) that competes with the boot's critical chain for the CPU. Measured on a 2-vCPU TCG VM, from
 * systemd's start to the call-home unit: 8.0 s as debootstrap left it, 6.1 s with these, the generators
 * below and multi-user.target as the default (no display: graphical.target only adds a wait).
 */
const MASKED_UNITS = [
  // Reaps e2scrub's snapshots (LVM only); 7.9 s of a 1-vCPU boot, the longest unit.
  "e2scrub_reap.service",
  // gettys on tty2–6 without logind; the serial console's getty stays.
  "getty-static.service",
  // Modules loaded ahead of need (LVM, FUSE, loop, configfs, EFI pstore): modprobe loads them when
  // something uses them.
  "modprobe@configfs.service",
  "modprobe@dm_mod.service",
  "modprobe@fuse.service",
  "modprobe@efi_pstore.service",
  "modprobe@loop.service",
  "systemd-pstore.service",
  // Kernel debug, tracing and configfs views, huge pages and POSIX message queues: mounted by hand (or
  // by their package) where used.
  "sys-kernel-debug.mount",
  "sys-kernel-tracing.mount",
  "sys-kernel-config.mount",
  "sys-fs-fuse-connections.mount",
  "dev-hugepages.mount",
  "dev-mqueue.mount",
  // Turns ip= on the kernel command line into networkd files: our DHCP file is in the image.
  "systemd-network-generator.service",
  // Creates system users from sysusers.d at every boot: Debian's packages create theirs when installed
  // (their maintainer scripts run systemd-sysusers), so at boot it finds nothing to do, on the chain
  // to udev and networkd.
  "systemd-sysusers.service",
  // An empty machine-id means "first boot": systemd-firstboot would then prompt on the console and wait.
  "systemd-firstboot.service",
  // The apt timers only add noise to a short-lived test boot and fetch nothing useful without lists.
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
];

/**
 * Generators systemd runs (one process each) before it queues a single unit: 2.3 s of a 1-vCPU boot
 * before "Queued start job", 0.9 s without these. The image has no encrypted, integrity or verity
 * volumes, no hibernation, no SysV scripts of its own and no rc.local; root is in /etc/fstab (so GPT
 * auto-discovery has nothing to add but an automount of the ESP). fstab, getty and debug (systemd.mask=
 * on the kernel command line, for an operator) stay.
 */
const MASKED_GENERATORS = [
  "systemd-cryptsetup-generator",
  "systemd-integritysetup-generator",
  "systemd-veritysetup-generator",
  "systemd-hibernate-resume-generator",
  "systemd-gpt-auto-generator",
  "systemd-rc-local-generator",
  "systemd-run-generator",
  "systemd-system-update-generator",
  "systemd-sysv-generator",
];

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

/** A symbolic link at `path` under `root` to `target`, replacing whatever is there. */
function symlinkAt(root: string, path: string, target: string): void {
  const link = join(root, path);
  mkdirSync(dirname(link), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(target, link);
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
  const masks = [
    ...MASKED_UNITS.map((unit) => join("etc/systemd/system", unit)),
    ...MASKED_GENERATORS.map((generator) => join("etc/systemd/system-generators", generator)),
  ];
  for (const path of masks) symlinkAt(temp, path, "/dev/null");
  symlinkAt(temp, "etc/systemd/system/default.target", "/lib/systemd/system/multi-user.target");

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
