#!/usr/bin/env bash
# Puts the network boot programs our TFTP server hands out under build/boot-files/, from Debian's
# packages and without installing them on the host (the ipxe package's postinst would touch the host's
# GRUB menu, shim-signed's its EFI partition): `apt-get download` + `dpkg-deb -x`, like the kernel.
#   undionly.kpxe  (ipxe)                   BIOS PXE → iPXE on the NIC's UNDI driver
#   ipxe.efi       (ipxe)                   UEFI x64 PXE → iPXE with its own NIC drivers
#   snponly.efi    (ipxe)                   UEFI x64 PXE → iPXE on the firmware's own NIC driver
#   shimx64.efi    (shim-signed)            Secure Boot: Microsoft-signed shim, which loads grubx64.efi
#   grubx64.efi    (grub-efi-amd64-signed)  Debian-signed network GRUB (grubnetx64.efi.signed)
#   disk-grubx64.efi (grub-efi-amd64-signed) Debian-signed GRUB for disks, which our OS images boot
#                                           through shim (build-scripts/build-os-image.ts); not served
# For the site-network tests only: lldpd (the switch that announces itself) into build/tools/lldpd.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/boot-files
tools=build/tools/lldpd
if [[ -f $out/.complete && -x $tools/usr/sbin/lldpd ]]; then
  printf '[setup] boot files present\n'
  exit 0
fi

tmp=$(mktemp -d build-boot-files.XXXXXX --tmpdir)
trap 'rm -rf "$tmp"' EXIT
printf '[setup] fetching boot files: ipxe, shim-signed, grub-efi-amd64-signed (and lldpd for the tests)\n'
# As root into a private temp dir: apt's sandbox user could not write there, so do not switch to it.
(cd "$tmp" && apt-get download -o APT::Sandbox::User=root ipxe shim-signed grub-efi-amd64-signed lldpd >/dev/null)
for deb in "$tmp"/*.deb; do
  name=$(basename "$deb")
  dpkg-deb -x "$deb" "$tmp/${name%%_*}"
done

staging=$out.tmp
rm -rf "$staging"
mkdir -p "$staging"
# The package's /usr/lib/ipxe/ipxe.efi is an absolute symlink to /boot/ipxe.efi: copy the file itself from
# the unpacked package, never through the link (it would read the host's /boot, or nothing).
cp "$tmp/ipxe/usr/lib/ipxe/undionly.kpxe" "$tmp/ipxe/boot/ipxe.efi" "$tmp/ipxe/usr/lib/ipxe/snponly.efi" "$staging/"
cp "$tmp/shim-signed/usr/lib/shim/shimx64.efi.signed" "$staging/shimx64.efi"
cp "$tmp/grub-efi-amd64-signed/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed" "$staging/grubx64.efi"
cp "$tmp/grub-efi-amd64-signed/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$staging/disk-grubx64.efi"
for pkg in ipxe shim-signed grub-efi-amd64-signed; do
  dpkg-deb --show --showformat='${Package} ${Version}\n' "$tmp"/"$pkg"_*.deb >>"$staging/VERSIONS"
done
touch "$staging/.complete"
rm -rf "$out"
mv "$staging" "$out"

# lldpd runs as its own user for privilege separation, as its package's postinst would set up.
rm -rf "$tools"
mkdir -p "$(dirname "$tools")"
mv "$tmp/lldpd" "$tools"
getent passwd _lldpd >/dev/null ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group _lldpd
printf '[setup] boot files ready in %s: %s\n' "$out" "$(paste -sd';' "$out/VERSIONS")"
