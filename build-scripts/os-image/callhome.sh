#!/bin/sh
# Calls the provisioning server home from a freshly installed OS (tiny: busybox sh; debian: dash).
# The install left one line of JSON, NUL-padded, in the partition named bootwright-marker:
#   {"image":"sha256:…","planHash":"sha256:…","machineId":"…","server":"http://…","credential":"bwm_…"}
# We POST {image, planHash, os} to ${server}/v1/machines/${machineId}/callhome until it answers 2xx,
# under the OS's own credential; the answer carries the next one, which goes back into the marker,
# then report health figures for good (seed 004): POST ${server}/v1/machines/${machineId}/health every
# nextReportMs the server answers; an answer {"action":"reboot"} reboots the machine (a maintenance swap
# waiting for it, in band: the machine has no power driver).
# Usage: bootwright-callhome <kind>. Console lines are the contract the VM tests match.
kind=${1:?usage: bootwright-callhome <kind>}
MARKER_NAME=bootwright-marker
RETRY_SECONDS=5
# ~5 minutes of retries: the server may be restarting, or the network slow to come up.
MAX_TRIES=60

say() { echo "bootwright-os: $*"; }

# The uevent files of the partitions named bootwright-marker: one grep for all block devices, not one
# process per device (a QEMU machine has ~15: loop devices, a CD drive, the disk and its partitions).
marker_uevents() {
  grep -lx "PARTNAME=$MARKER_NAME" /sys/class/block/*/uevent 2>/dev/null
}

# /dev/disk/by-partlabel needs udev (debian has it); the tiny OS has only sysfs: the kernel puts the
# GPT partition name in each partition's uevent as PARTNAME.
marker_device() {
  if [ -b "/dev/disk/by-partlabel/$MARKER_NAME" ]; then
    echo "/dev/disk/by-partlabel/$MARKER_NAME"
    return 0
  fi
  uevent=$(marker_uevents | head -n 1)
  [ -n "$uevent" ] || return 1
  echo "/dev/$(sed -n 's/^DEVNAME=//p' "$uevent")"
}

# Every partition named bootwright-marker that holds this very marker: the members of a mirror (md RAID 1
# with its metadata at the end leaves each member's GPT readable, and an OS that does not assemble the
# array sees both). The next credential goes into each, or the mirror's halves would differ.
marker_copies() {
  for uevent in $(marker_uevents); do
    copy="/dev/$(sed -n 's/^DEVNAME=//p' "$uevent")"
    [ "$(head -c 4096 "$copy" | tr -d '\000')" = "$marker" ] && echo "$copy"
  done
}

# The value of a string field of the marker's JSON (fields come in any order).
field() {
  printf '%s\n' "$marker" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"
}

say "booted $kind"

# debian starts us with networkd, before DHCP has answered (not after network-online.target, which waits
# for every link): wait up to 30 s for the first IPv4 route, polled every 0.1 s, rather than spend a
# 5-second retry on a call that cannot leave. /proc/net/route lists one per line below its header.
for _ in $(seq 1 300); do
  [ "$(wc -l </proc/net/route)" -gt 1 ] && break
  sleep 0.1
done

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
credential=$(field credential)
if [ -z "$machine" ] || [ -z "$server" ]; then
  say "no marker"
  exit 0
fi

# Under TLS the install left the CA it pinned in the marker's second block: GNU wget trusts it alone.
# busybox (tiny) has no TLS client that checks a certificate: it calls the same port over plain HTTP,
# which the server allows for call home and health only (this credential opens nothing else).
CA_FILE=/run/bootwright-ca.pem
case "$server" in
  https://*)
    dd if="$device" bs=4096 skip=1 count=1 2>/dev/null | tr -d '\000' >"$CA_FILE"
    if ! wget --version 2>/dev/null | grep -q 'GNU Wget'; then
      say "no TLS client here: calling home over plain HTTP"
      server="http://${server#https://}"
    elif ! grep -q 'BEGIN CERTIFICATE' "$CA_FILE"; then
      say "the marker has no CA for $server: calling home will fail"
    fi
    ;;
esac

body="{\"image\":\"$(field image)\",\"planHash\":\"$(field planHash)\",\"os\":\"$kind $(uname -r)\"}"
base="${server%/}/v1/machines/$machine"

# POSTs JSON $2 to $1 and prints the answer; non-zero on a failure or a non-2xx answer. The credential
# travels in a header and never in a program's argv (`ps` shows argv to every user): GNU wget (debian)
# reads it from a wgetrc only root can read; busybox wget (tiny) cannot, so there the request goes to
# busybox nc, written by hand (HTTP/1.0). -t 1: we do the retrying. `timeout`, not wget's -T: busybox
# 1.35's wget segfaults with -T.
WGETRC_FILE=/run/bootwright-callhome.wgetrc
post() {
  if wget --version 2>/dev/null | grep -q 'GNU Wget'; then
    (
      umask 077
      printf 'header = Authorization: Bearer %s\n' "$credential" >"$WGETRC_FILE"
      if [ -s "$CA_FILE" ]; then printf 'ca_certificate = %s\n' "$CA_FILE" >>"$WGETRC_FILE"; fi
    )
    WGETRC="$WGETRC_FILE" timeout 20 wget -q -t 1 -O - --header 'Content-Type: application/json' --post-data "$2" "$1"
  else
    nc_post "$1" "$2"
  fi
}

# busybox's way: http://host:port/path, one request, the answer's body printed when its status is 2xx.
nc_post() {
  rest=${1#http://}
  hostport=${rest%%/*}
  path=/${rest#*/}
  host=${hostport%:*}
  port=${hostport##*:}
  [ "$port" = "$hostport" ] && port=80
  # nc half-closes the connection when its input ends, and a server may drop a half-closed request
  # before it answers (seen: the call home applied, the answer lost): keep the input open a moment.
  response=$( {
    printf 'POST %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
      "$path" "$hostport" "$credential" "${#2}" "$2"
    sleep 3
  } | timeout 20 nc "$host" "$port")
  # The answer's status line decides, not nc's exit status (it can be non-zero after a whole answer
  # when the server resets the connection behind its last byte).
  status=$(printf '%s\n' "$response" | head -n 1 | tr -d '\r')
  case "$(printf '%s\n' "$status" | cut -d' ' -f2)" in
    2??) printf '%s\n' "$response" | sed '1,/^\r\{0,1\}$/d' ;;
    *)
      echo "${status:-no answer}" >&2
      return 1
      ;;
  esac
}

# The server's answer to a call home names the OS's next credential: it goes into the marker (4 KiB,
# NUL-padded, written in one block) before it is used, so a reboot between the two keeps a working one.
done_copies=
rotate() {
  next=$(printf '%s\n' "$1" | sed -n 's/.*"credential"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
  [ -n "$next" ] && [ "$next" != "$credential" ] || return 0
  updated=$(printf '%s' "$marker" | sed "s/\"credential\":\"[^\"]*\"/\"credential\":\"$next\"/")
  written=0
  for copy in $(marker_copies) "$device"; do
    # $device (found through by-partlabel on debian) may be one of the copies already: once is enough.
    real=$(readlink -f "$copy")
    case " $done_copies " in *" $real "*) continue ;; esac
    done_copies="$done_copies $real"
    if { printf '%s' "$updated"; head -c $((4096 - ${#updated})) /dev/zero; } | dd of="$copy" bs=4096 count=1 conv=notrunc,fsync 2>/dev/null; then
      written=$((written + 1))
    else
      say "could not keep the new credential in the marker on $copy"
    fi
  done
  if [ "$written" -gt 0 ]; then
    marker=$updated
    credential=$next
  fi
}

tries=0
until answer=$(post "$base/callhome" "$body" 2>/run/bootwright-callhome.err); do
  tries=$((tries + 1))
  say "call home not accepted (try $tries): $(head -c 200 /run/bootwright-callhome.err)"
  if [ "$tries" -ge "$MAX_TRIES" ]; then
    say "call-home failed machine=$machine url=$base/callhome"
    exit 1
  fi
  sleep "$RETRY_SECONDS"
done
# The next credential is on the disk before we say so: the line is what the tests (and an operator
# watching the console) take as "this OS is known to the server".
rotate "$answer"
say "called home machine=$machine"

# The figures: CPU clock as the kernel sees it, memory bandwidth (256 MiB through dd, timed with
# /proc/uptime: busybox has no sub-second date), I/O errors in the kernel log, the load average.
uptime_s() { cut -d' ' -f1 /proc/uptime; }
figures() {
  mhz=$(awk -F: '/^cpu MHz/ { printf "%d", $2; exit }' /proc/cpuinfo)
  t0=$(uptime_s)
  dd if=/dev/zero of=/dev/null bs=1048576 count=256 2>/dev/null
  t1=$(uptime_s)
  mbs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; if (d < 0.01) d = 0.01; printf "%d", 268.435456 / d }')
  errors=$(dmesg 2>/dev/null | grep -ci 'i/o error')
  load=$(cut -d' ' -f1 /proc/loadavg)
  printf '{"cpuMhz":%s,"memoryBandwidthMBs":%s,"diskErrors":%s,"load1":%s}' "${mhz:-0}" "$mbs" "${errors:-0}" "$load"
}

while true; do
  health="{\"image\":\"$(field image)\",\"planHash\":\"$(field planHash)\",\"os\":\"$kind $(uname -r)\",\"figures\":$(figures)}"
  next_ms=$((RETRY_SECONDS * 1000))
  if answer=$(post "$base/health" "$health"); then
    next_ms=$(printf '%s\n' "$answer" | sed -n 's/.*"nextReportMs"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p')
    case "$answer" in
      *'"action":"reboot"'*)
        say "reboot requested by the server machine=$machine"
        sync
        if [ "$kind" = tiny ]; then reboot -f; else systemctl reboot; fi
        exit 0
        ;;
    esac
  fi
  sleep $(((${next_ms:-60000} + 999) / 1000))
done
