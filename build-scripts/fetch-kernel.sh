#!/usr/bin/env bash
# Puts Debian's current amd64 kernel and its modules under build/kernel/ without installing it on the
# host (installing would run update-initramfs there): `apt-get download` + `dpkg-deb -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/kernel
if [[ -f $out/VERSION && -f $out/vmlinuz && -d $out/lib/modules ]]; then
  printf '[setup] kernel %s present\n' "$(cat "$out/VERSION")"
  exit 0
fi

# The metapackage names the versioned package, e.g. linux-image-6.1.0-56-amd64.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [[ -z $pkg ]]; then
  apt-get update -qq
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[[ -n $pkg ]] || { echo "[setup] cannot find the linux-image package behind linux-image-amd64" >&2; exit 1; }
version=${pkg#linux-image-}

printf '[setup] fetching kernel package %s\n' "$pkg"
tmp=$(mktemp -d build-kernel.XXXXXX --tmpdir)
trap 'rm -rf "$tmp"' EXIT
# As root into a private temp dir: apt's sandbox user could not write there, so do not switch to it.
(cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$pkg" >/dev/null)
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"

staging=$out.tmp
rm -rf "$staging"
mkdir -p "$staging"
cp "$tmp/root/boot/vmlinuz-$version" "$staging/vmlinuz"
mkdir -p "$staging/lib/modules"
mv "$tmp/root/lib/modules/$version" "$staging/lib/modules/"
# The .deb ships no modules.dep (its postinst runs depmod): make it for the whole tree once, so the
# initramfs builder (and later, drivers sent on demand) can resolve module dependencies.
depmod -b "$staging" "$version"
echo "$version" >"$staging/VERSION"
rm -rf "$out"
mv "$staging" "$out"
printf '[setup] kernel %s ready in %s\n' "$version" "$out"
