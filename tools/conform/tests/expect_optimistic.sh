#!/usr/bin/env bash
# Optimistic isolation (refinement_tests/src/isolated_case.h): one child per configuration, the
# per-case path as the authoritative fallback.
#  1. The optimistic run, the per-case run (--isolate=case) and the in-process run
#     (--no-isolate) of one seed report the same cases, commands and coverage.
#  2. An optimistic child that truncates its report, exits 0 without one, or exits 1 (test hook
#     KNIOMMU_TEST_OPTIMISTIC_SABOTAGE) is not believed: the configuration runs again per case,
#     with the same result.
#  3. With the hang adapter, the watchdog kills the optimistic child about --case-timeout after
#     its case hung, and the per-case fallback then reports the time limit.
# Usage: expect_optimistic.sh <kniommu-conform> <hang adapter .so> <work dir>
set -uo pipefail
conform=$1 hang_adapter=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
fail() { echo "expect_optimistic: $*" >&2; exit 1; }
run=(--seed 1 --cases 40 --config l4_sp,l3_nosp --no-progress)

# The run's JSON without what depends on timing (seconds, rates, which cases were slowest).
stable() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["configs"]:
    for k in ("seconds", "commands_per_second", "cpu_seconds", "commands_per_cpu_second", "slowest"):
        c.pop(k, None)
print(json.dumps(d, sort_keys=True, indent=1))
PY
}

# The path-reach counters and skipped checks are not in the JSON: --verbose prints them.
paths() { grep -E '^  (paths reached:|check SKIPPED|\[[^]]*\] skipped )' "$1"; }

for mode in optimistic case none; do
  extra=()
  [ "$mode" = case ] && extra=(--isolate=case)
  [ "$mode" = none ] && extra=(--no-isolate)
  timeout 300 "$conform" "${run[@]}" "${extra[@]}" --verbose --coverage-out "$work/$mode.json" \
    >"$work/$mode.txt" 2>&1 || { cat "$work/$mode.txt" >&2; fail "$mode run failed"; }
  stable "$work/$mode.json" >"$work/$mode.stable" || fail "cannot read $mode JSON"
  paths "$work/$mode.txt" >>"$work/$mode.stable" || fail "$mode run printed no path counters"
done
grep -q '"commands": [1-9]' "$work/optimistic.stable" || fail "the optimistic run executed no commands"
grep -q "optimistic run not used" "$work/optimistic.txt" && fail "the optimistic run fell back unprompted"
diff -u "$work/case.stable" "$work/optimistic.stable" >&2 || fail "optimistic and per-case runs differ"
diff -u "$work/case.stable" "$work/none.stable" >&2 || fail "in-process and per-case runs differ"

for sabotage in truncate none exit1; do
  KNIOMMU_TEST_OPTIMISTIC_SABOTAGE=$sabotage timeout 300 "$conform" "${run[@]}" --verbose \
    --coverage-out "$work/sab.json" >"$work/sab_$sabotage.txt" 2>&1 ||
    { cat "$work/sab_$sabotage.txt" >&2; fail "sabotaged ($sabotage) run failed"; }
  case $sabotage in
    truncate) why="report is truncated or malformed" ;;
    none) why="exited without a report" ;;
    exit1) why="exited with status 1" ;;
  esac
  [ "$(grep -c "optimistic run not used (.*$why" "$work/sab_$sabotage.txt")" -eq 2 ] ||
    { cat "$work/sab_$sabotage.txt" >&2; fail "sabotage $sabotage: no fallback for both configurations"; }
  stable "$work/sab.json" >"$work/sab.stable" || fail "cannot read sabotaged JSON"
  paths "$work/sab_$sabotage.txt" >>"$work/sab.stable"
  diff -u "$work/case.stable" "$work/sab.stable" >&2 || fail "fallback after $sabotage differs"
done

# The watchdog: the first hung process is the optimistic child; it must be gone soon after the
# time limit (2 s), long before the runner's own limit.
export KNIOMMU_HANG_PIDS="$work/hung.pids"
: >"$KNIOMMU_HANG_PIDS"
timeout 300 "$conform" --adapter "$hang_adapter" --config l4_sp --seed 3 --cases 200 --no-progress \
  --case-timeout 2 --max-length 12 --no-shrink --verbose >"$work/hang.txt" 2>&1 &
runner=$!
for _ in $(seq 600); do [ -s "$KNIOMMU_HANG_PIDS" ] && break; sleep 0.1; done
[ -s "$KNIOMMU_HANG_PIDS" ] || { kill -KILL "$runner"; fail "no case hung"; }
pid=$(head -1 "$KNIOMMU_HANG_PIDS")
ended=
for i in $(seq 60); do  # 6 s: the 2 s limit, 100 ms watchdog ticks, a loaded machine
  if [ ! -e "/proc/$pid" ] || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
    ended=$i
    break
  fi
  sleep 0.1
done
[ -n "$ended" ] || { kill -KILL "$runner" "$pid"; fail "hung optimistic child $pid not killed within 6 s"; }
wait "$runner"
status=$?
[ "$status" -eq 1 ] || { cat "$work/hang.txt" >&2; fail "hang run exited $status, expected 1"; }
grep -q "optimistic run not used (a case exceeded its time limit)" "$work/hang.txt" ||
  { cat "$work/hang.txt" >&2; fail "the first hang was not the optimistic child's"; }
grep -q "exceeded its time limit of 2000 ms" "$work/hang.txt" ||
  { cat "$work/hang.txt" >&2; fail "the per-case fallback did not report the time limit"; }
while read -r p; do
  [ -e "/proc/$p" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null &&
    { kill -KILL "$p"; fail "hung child $p left behind"; }
done <"$KNIOMMU_HANG_PIDS"
echo "expect_optimistic: same results optimistic/per-case/in-process, sabotaged reports fall back, hung child killed after ~$((ended / 10)).$((ended % 10)) s past its hang notice"
