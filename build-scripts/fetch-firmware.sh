#!/usr/bin/env bash
# Puts the firmware files of Debian's firmware packages under build/firmware/lib/firmware/, without
# installing them on the host: the initramfs takes what its Ethernet drivers ask for (modinfo firmware:),
# and the server sends the rest with the drivers it sends on demand (server/drivers/).
# Most of these packages are in `non-free-firmware`, a component the host's apt sources may not name:
# apt runs here on a private sources list, lists and cache (under build/apt-firmware/), the host's own
# apt configuration is never changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Ethernet and storage firmware Debian packages (firmware-linux-free is in main).
PACKAGES=(firmware-bnx2 firmware-bnx2x firmware-cavium firmware-myricom firmware-netronome firmware-netxen
  firmware-qlogic firmware-realtek firmware-misc-nonfree firmware-linux-free)

out=build/firmware
stamp="$out/PACKAGES"
if [[ -f $stamp && $(cat "$stamp") == "${PACKAGES[*]}" ]]; then
  printf '[setup] firmware present (%s files)\n' "$(find "$out/lib/firmware" -type f | wc -l)"
  exit 0
fi

# The host's Debian mirror: the first URIs: of debian.sources (Debian 12), else the first deb line.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || mirror=http://deb.debian.org/debian
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

apt_dir=build/apt-firmware
rm -rf "$apt_dir"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
echo "deb $mirror $suite main non-free-firmware" >"$apt_dir/sources.list"
: >"$apt_dir/status"
apt_private=(-o "Dir::Etc::SourceList=$PWD/$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$PWD/$apt_dir/lists" -o "Dir::Cache=$PWD/$apt_dir/cache"
  -o "Dir::State::status=$PWD/$apt_dir/status" -o APT::Sandbox::User=root)
printf '[setup] fetching firmware packages from %s %s non-free-firmware\n' "$mirror" "$suite"
apt-get "${apt_private[@]}" update -qq
(cd "$apt_dir/debs" && apt-get "${apt_private[@]}" download "${PACKAGES[@]}" >/dev/null)

staging=$out.tmp
rm -rf "$staging"
mkdir -p "$staging"
for deb in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$staging"; done
# Debian 12's packages put the files under /lib/firmware (usrmerge keeps that path working).
[[ -d $staging/lib/firmware ]] || { echo "[setup] the firmware packages held no lib/firmware" >&2; exit 1; }
rm -rf "$staging/usr/share/doc"
echo "${PACKAGES[*]}" >"$staging/PACKAGES"
rm -rf "$out" "$apt_dir"
mv "$staging" "$out"
printf '[setup] firmware ready in %s (%s files, %s)\n' "$out/lib/firmware" \
  "$(find "$out/lib/firmware" -type f | wc -l)" "$(du -sh "$out/lib/firmware" | cut -f1)"
