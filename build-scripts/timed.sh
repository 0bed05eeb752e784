# Sourced by the set-up and test scripts: `timed <name> <command…>` runs the command and appends its
# seconds to build/test-timing/steps.jsonl, the stages before vitest in `npm test`'s timing table.
timed() {
  local name=$1
  shift
  local started ended
  started=$(date +%s.%N)
  "$@"
  ended=$(date +%s.%N)
  mkdir -p build/test-timing
  printf '{"step":"%s","seconds":%s}\n' "$name" "$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')" \
    >>build/test-timing/steps.jsonl
}
