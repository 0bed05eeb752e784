#!/bin/sh
# Calls the provisioning server home from a freshly installed OS (tiny: busybox sh; debian: dash).
# The install left one line of JSON, NUL-padded, in the partition named bootwright-marker:
#   {"image":"sha256:…","planHash":"sha256:…","machineId":"…","server":"http://…"}
# We POST {image, planHash, os} to ${server}/v1/machines/${machineId}/callhome until it answers 2xx.
# Usage: bootwright-callhome <kind>. Console lines are the contract the VM tests match.
kind=${1:?usage: bootwright-callhome <kind>}
MARKER_NAME=bootwright-marker
RETRY_SECONDS=5
# ~5 minutes of retries: the server may be restarting, or the network slow to come up.
MAX_TRIES=60

say() { echo "bootwright-os: $*"; }

# /dev/disk/by-partlabel needs udev (debian has it); the tiny OS has only sysfs: the kernel puts the
# GPT partition name in each partition's uevent as PARTNAME.
marker_device() {
  if [ -b "/dev/disk/by-partlabel/$MARKER_NAME" ]; then
    echo "/dev/disk/by-partlabel/$MARKER_NAME"
    return 0
  fi
  for uevent in /sys/class/block/*/uevent; do
    if grep -qx "PARTNAME=$MARKER_NAME" "$uevent" 2>/dev/null; then
      echo "/dev/$(sed -n 's/^DEVNAME=//p' "$uevent")"
      return 0
    fi
  done
  return 1
}

# The value of a string field of the marker's JSON (fields come in any order).
field() {
  printf '%s\n' "$marker" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"
}

say "booted $kind"

# Disk drivers may still be probing partitions: give the marker a few seconds to appear.
device=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  device=$(marker_device) && break
  sleep 0.5
done
marker=
[ -n "$device" ] && marker=$(head -c 4096 "$device" | tr -d '\000')
machine=$(field machineId)
server=$(field server)
if [ -z "$machine" ] || [ -z "$server" ]; then
  say "no marker"
  exit 0
fi

body="{\"image\":\"$(field image)\",\"planHash\":\"$(field planHash)\",\"os\":\"$kind $(uname -r)\"}"
url="${server%/}/v1/machines/$machine/callhome"
tries=0
while [ "$tries" -lt "$MAX_TRIES" ]; do
  # busybox and GNU wget both exit non-zero on a non-2xx answer; -t 1: we do the retrying. `timeout`,
  # not wget's -T: busybox 1.35's wget segfaults with -T.
  if timeout 20 wget -q -t 1 -O /dev/null --header 'Content-Type: application/json' --post-data "$body" "$url"; then
    say "called home machine=$machine"
    exit 0
  fi
  tries=$((tries + 1))
  sleep "$RETRY_SECONDS"
done
say "call-home failed machine=$machine url=$url"
exit 1
