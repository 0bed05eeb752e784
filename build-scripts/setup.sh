#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian 12 machine: Debian packages, npm dependencies, the Debian
# kernel, and our initramfs. `npm test`, `npm run demo` and `npm run bench` call it first; each step
# skips itself when its output is already there, so a second run costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
source build-scripts/timed.sh

# --- Debian packages -------------------------------------------------------------------------------
# qemu + ROMs + firmware run the test VMs; busybox-static, zstd and cpio build the initramfs;
# binutils gives `strip` for the Node binary we put in it; kmod gives depmod for the kernel modules;
# dmidecode is the oracle our SMBIOS parser is tested against; fdisk (sfdisk) lays out test disks.
# mdadm, e2fsprogs (mke2fs, chattr), dosfstools (mkfs.fat) and xfsprogs go into the initramfs for the
# installer plugins (agent/installer/tools.ts). smartmontools' smartctl goes into the diagnostic
# maintenance image; openipmi (ipmi_sim) and ipmitool are the BMC and the client of the IPMI power driver.
# postgresql: the second store's server, started by the tests themselves in temp directories
# (server/db/postgres/local-server.ts); the cluster the package makes for itself is not used.
# dnsmasq-base: the server's managed proxy/full DHCP (the binary alone: the dnsmasq package would start a
# system service). gcc + libc6-dev build the initramfs's LLDP listener (initramfs/lldp-listen.c).
# libevent, libsnmp, libxml2: what the tests' lldpd (fetched, not installed: fetch-boot-files.sh) links to.
# dpkg-dev (dpkg-shlibdeps) and lintian: `npm run package` computes the .deb's library dependencies, and
# test-vm/package.test.ts checks the package with lintian.
# prometheus: the real scraper the metrics test starts in a temp directory (server/metrics/local-prometheus.ts);
# the package's own service is never used.
# chromium: the headless browser the console's test and benchmark drive (playwright-core, which never
# downloads a browser of its own).
# xorriso + isolinux (with syslinux-common, mtools, dosfstools above) build the rescue media's hybrid ISO
# (`bootwright media build`, build-scripts/media/iso.ts).
# nginx: the rack relay the relay test starts in a temp directory (server/relay/, `bootwright relay config`);
# the package's own service is never used (its postinst does not start it where systemd is not running).
# openssl makes the CA and server certificate of `--tls auto` (server/tls/certificates.ts); hdparm goes
# into the initramfs for ATA Secure Erase (agent/installer/tools.ts).
APT_PACKAGES=(qemu-system-x86 qemu-utils ipxe-qemu ovmf busybox-static zstd cpio binutils kmod dmidecode fdisk ca-certificates openssl syslinux syslinux-common mtools dosfstools systemd-boot-efi xorriso isolinux debootstrap e2fsprogs mdadm xfsprogs curl smartmontools openipmi ipmitool postgresql dnsmasq-base gcc libc6-dev libevent-2.1-7 libsnmp40 libxml2 libbsd0 libcap2 libreadline8 dpkg-dev lintian prometheus chromium nginx hdparm)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  as_root=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    as_root=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  timed "setup: apt-get update" "${as_root[@]}" apt-get update -qq
  timed "setup: apt-get install" "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

# --- npm dependencies ------------------------------------------------------------------------------
# The stamp holds the lock file's hash: `npm ci` runs only when the lock changed or node_modules is gone.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.bootwright-lock-sha256
if [[ ! -f $stamp || $(cat "$stamp") != "$lock_hash" ]]; then
  say "installing npm dependencies (native addons compile from source: ~1-2 min)"
  # No browser download from any package's install step: the tests use Debian's chromium.
  timed "setup: npm ci" env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
    npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$stamp"
else
  say "npm dependencies present"
fi

# --- Debian kernel (not installed on the host: extracted from its .deb) ------------------------------
timed "setup: kernel" bash build-scripts/fetch-kernel.sh

# --- firmware (Debian's non-free-firmware packages, through a private apt sources list) -------------
timed "setup: firmware" bash build-scripts/fetch-firmware.sh

# --- initramfs ---------------------------------------------------------------------------------------
timed "setup: initramfs" npx --no-install tsx build-scripts/build-initramfs.ts

# --- network boot programs (iPXE, shim, signed GRUB) for the TFTP server ------------------------------
timed "setup: boot files" bash build-scripts/fetch-boot-files.sh
