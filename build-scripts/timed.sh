# Sourced by the set-up and test scripts: `timed <name> <command…>` runs the command, appends its seconds
# to build/test-timing/steps.jsonl (the stages before vitest in `npm test`'s timing table) and returns
# the command's own status, so a failing step still fails its script.
timed() {
  local name=$1
  shift
  local started ended status=0
  started=$(date +%s.%N)
  "$@" || status=$?
  ended=$(date +%s.%N)
  mkdir -p build/test-timing
  printf '{"step":"%s","seconds":%s}\n' "$name" "$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')" \
    >>build/test-timing/steps.jsonl
  return "$status"
}
