#!/usr/bin/env bash
# Crash isolation: kniommu-conform with an adapter that dies (SIGSEGV / abort) or hangs in a case
# must survive, report the case as failed with the signal (or the time limit), shrink it to the
# two grants that trigger it, write a replay file that reproduces it, and leave no process behind.
# Usage: expect_crash.sh <kniommu-conform> <adapter .so> <segv|abort|hang> <work dir>
set -uo pipefail
conform=$1 adapter=$2 mode=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
fail() { echo "expect_crash($mode): $*" >&2; cat "$work/out.txt" >&2 2>/dev/null; exit 1; }
commands() { sed -n 's/.*counterexample (\([0-9]*\) commands.*/\1/p' "$1" | head -1; }
export KNIOMMU_HANG_PIDS="$work/hung.pids"
timeout_opt=()
# 1 s: far above a case's normal run time even on a loaded machine (the slowest of these 200
# cases with the example adapter took 48 ms in the dev preset, and the asan preset runs the suite
# about 1.3x slower; a tighter limit kills passing cases, and a flaky failure cannot shrink), yet
# each hanging shrink step costs it: the shrinking run below hangs about 40 times, so this limit
# is most of the test's run time (at 2 s it was the longest test in CI, 130 s).
[ "$mode" = hang ] && timeout_opt=(--case-timeout 1 --max-length 12)

# The first failing case as found, to show that shrinking (in children too) made it shorter.
timeout 300 "$conform" --adapter "$adapter" --config l4_sp --seed 3 --cases 200 --no-progress \
  "${timeout_opt[@]}" --no-shrink >"$work/unshrunk.txt" 2>&1
unshrunk=$(commands "$work/unshrunk.txt")
[ -n "$unshrunk" ] || fail "--no-shrink run printed no counterexample"

timeout 300 "$conform" --adapter "$adapter" --config l4_sp --seed 3 --cases 200 --no-progress \
  "${timeout_opt[@]}" --replay-out "$work/replay.txt" --junit "$work/junit.xml" \
  >"$work/out.txt" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "exit status $status, expected 1 (the runner must survive and report)"
grep -q "DOES NOT CONFORM" "$work/out.txt" || fail "no verdict line"
case $mode in
  segv) grep -q "case crashed: SIGSEGV" "$work/out.txt" || fail "SIGSEGV not reported" ;;
  abort) grep -q "case crashed: SIGABRT" "$work/out.txt" || fail "SIGABRT not reported" ;;
  hang) grep -q "exceeded its time limit of 1000 ms" "$work/out.txt" || fail "time limit not reported" ;;
esac
length=$(commands "$work/out.txt")
[ -n "$length" ] || fail "no counterexample printed"
# Two successful grants are the least that trigger it (attach, create, begin, close, begin).
[ "$length" -ge 2 ] && [ "$length" -le 16 ] || fail "counterexample has $length commands, expected 2..16"
if [ "$unshrunk" -gt 6 ]; then
  [ "$length" -lt "$unshrunk" ] || fail "the $unshrunk-command case was not shrunk ($length)"
fi
[ "$(grep -c '^ *DmaBegin(' "$work/out.txt")" -ge 2 ] || fail "the counterexample lacks the two grants"
[ -s "$work/replay.txt" ] || fail "no replay file"
grep -q '<failure' "$work/junit.xml" || fail "JUnit has no <failure>"

timeout 120 "$conform" --adapter "$adapter" --replay "$work/replay.txt" --no-progress \
  "${timeout_opt[@]}" >"$work/replay_out.txt" 2>&1
replay_status=$?
[ "$replay_status" -eq 1 ] || fail "replay exited $replay_status, expected 1"
grep -q "case crashed\|exceeded its time limit" "$work/replay_out.txt" || fail "replay did not reproduce the crash"

# gone PID: true once the process has ended (a zombie waiting for its new parent counts as ended).
gone() {
  for _ in $(seq 50); do
    [ -e "/proc/$1" ] || return 0
    grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
if [ "$mode" = hang ]; then
  [ -s "$KNIOMMU_HANG_PIDS" ] || fail "the hanging adapter never hung"
  while read -r pid; do gone "$pid" || fail "hung child $pid is still alive"; done <"$KNIOMMU_HANG_PIDS"
  # A runner stopped by its scheduler (SIGTERM) while a case hangs ends that case's child too.
  : >"$KNIOMMU_HANG_PIDS"
  "$conform" --adapter "$adapter" --config l4_sp --seed 3 --cases 200 --no-progress \
    --case-timeout 300 >"$work/interrupted.txt" 2>&1 &
  runner=$!
  for _ in $(seq 300); do [ -s "$KNIOMMU_HANG_PIDS" ] && break; sleep 0.1; done
  [ -s "$KNIOMMU_HANG_PIDS" ] || { kill -KILL "$runner"; fail "no case hung in the interrupted run"; }
  kill -TERM "$runner"
  wait "$runner"
  status=$?
  [ "$status" -eq 143 ] || fail "interrupted runner exited $status, expected 143 (SIGTERM)"
  pid=$(head -1 "$KNIOMMU_HANG_PIDS")
  gone "$pid" || { kill -KILL "$pid"; fail "the interrupted runner left its hung child $pid behind"; }
fi
echo "expect_crash($mode): runner survived; reported, shrunk from $unshrunk to $length commands, replay reproduces it"
