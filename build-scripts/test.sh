#!/usr/bin/env bash
# `npm test`: the set-up (idempotent), then types + lint + format, then every test file, unit and VM, in
# one vitest run (vitest.config.ts). Each stage's seconds land in build/test-timing/steps.jsonl and the
# timing table at the end shows them with the files'. Extra arguments go to vitest (a file, -t name).
set -euo pipefail
cd "$(dirname "$0")/.."
source build-scripts/timed.sh
rm -f build/test-timing/steps.jsonl
bash build-scripts/setup.sh

# The whole suite needs the Debian OS image. Where it is not built yet (a fresh machine: debootstrap
# takes minutes), build it in the background from now on: the files that need it wait for it (the
# builder's lock) and start after the others (test-vm/timing/sequencer.ts), so the wait overlaps work.
image_pid=
if [[ $# -eq 0 && ! -f build/images/debian.raw.zst ]]; then
  mkdir -p build/test-timing
  # Its own process group (setsid), so it can be stopped whole, debootstrap included.
  setsid bash -c 'source build-scripts/timed.sh &&
    timed "debian image (in the background)" npx --no-install tsx build-scripts/build-os-image.ts --kind debian' \
    >build/test-timing/debian-image.log 2>&1 </dev/null &
  image_pid=$!
  printf '[test] building the Debian OS image in the background (pid %s, log build/test-timing/debian-image.log)\n' "$image_pid"
fi

status=0
timed check npm run --silent check || status=$?
if ((status == 0)); then
  npx --no-install vitest run "$@" || status=$?
fi
if [[ -n $image_pid ]]; then
  # Finished long ago when the suite ran; if check failed first, stop it (its group, by PID) rather than leave it.
  kill -- -"$image_pid" 2>/dev/null || true
  wait "$image_pid" 2>/dev/null || true
fi
exit "$status"
