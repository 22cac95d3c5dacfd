#!/usr/bin/env bash
# kniommu-conform must report the broken adapter as non-conforming (exit 1) with a shrunk
# counterexample of at most $max commands, write a replay file, and the replay must fail again.
# Usage: expect_counterexample.sh <kniommu-conform> <broken adapter .so> <work dir>
set -uo pipefail
conform=$1 adapter=$2 work=$3
max=8
mkdir -p "$work"
rm -f "$work/replay.txt" "$work/junit.xml"
"$conform" --adapter "$adapter" --config l4_sp --seed 11 --cases 300 --no-progress \
  --replay-out "$work/replay.txt" --junit "$work/junit.xml" >"$work/out.txt" 2>&1
status=$?
cat "$work/out.txt"
fail() { echo "expect_counterexample: $*" >&2; exit 1; }
[ "$status" -eq 1 ] || fail "exit status $status, expected 1 (non-conforming)"
grep -q "DOES NOT CONFORM" "$work/out.txt" || fail "no verdict line"
length=$(sed -n 's/.*counterexample (\([0-9]*\) commands.*/\1/p' "$work/out.txt" | head -1)
[ -n "$length" ] || fail "no counterexample printed"
[ "$length" -ge 1 ] && [ "$length" -le "$max" ] || fail "counterexample has $length commands, expected 1..$max (shrunk)"
grep -qi "detach" "$work/out.txt" || fail "the counterexample does not involve a detach"
[ -s "$work/replay.txt" ] || fail "no replay file written"
grep -q '<failure' "$work/junit.xml" || fail "JUnit XML has no <failure>"
"$conform" --adapter "$adapter" --replay "$work/replay.txt" --no-progress >"$work/replay_out.txt" 2>&1
replay_status=$?
cat "$work/replay_out.txt"
[ "$replay_status" -eq 1 ] || fail "replaying the recorded case exited $replay_status, expected 1"
echo "expect_counterexample: caught with a $length-command counterexample; replay fails again"
