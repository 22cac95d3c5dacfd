#!/usr/bin/env bash
# kniommu-conform must report the broken adapter as non-conforming (exit 1) with a shrunk
# counterexample (shorter than the first failing case found with the same seed, and at most $max
# commands), write a replay file, and the replay must fail again.
# Usage: expect_counterexample.sh <kniommu-conform> <broken adapter .so> <work dir>
set -uo pipefail
conform=$1 adapter=$2 work=$3
max=16
seed=3
mkdir -p "$work"
rm -f "$work/replay.txt" "$work/junit.xml"
fail() { echo "expect_counterexample: $*" >&2; exit 1; }
commands() { sed -n 's/.*counterexample (\([0-9]*\) commands.*/\1/p' "$1" | head -1; }

"$conform" --adapter "$adapter" --config l4_sp --seed $seed --cases 300 --no-progress --no-shrink \
  >"$work/unshrunk.txt" 2>&1
unshrunk=$(commands "$work/unshrunk.txt")
[ -n "$unshrunk" ] || fail "--no-shrink run printed no counterexample"

"$conform" --adapter "$adapter" --config l4_sp --seed $seed --cases 300 --no-progress \
  --replay-out "$work/replay.txt" --junit "$work/junit.xml" >"$work/out.txt" 2>&1
status=$?
cat "$work/out.txt"
[ "$status" -eq 1 ] || fail "exit status $status, expected 1 (non-conforming)"
grep -q "DOES NOT CONFORM" "$work/out.txt" || fail "no verdict line"
length=$(commands "$work/out.txt")
[ -n "$length" ] || fail "no counterexample printed"
[ "$length" -ge 2 ] && [ "$length" -le "$max" ] || fail "counterexample has $length commands, expected 2..$max"
# Attaching and detaching is the least that can show the bug; a longer first case must shrink.
[ "$length" -le "$unshrunk" ] || fail "shrinking made the counterexample longer ($unshrunk -> $length)"
if [ "$unshrunk" -gt 4 ]; then
  [ "$length" -lt "$unshrunk" ] || fail "the $unshrunk-command counterexample was not shrunk"
fi
grep -qi "detach" "$work/out.txt" || fail "the counterexample does not involve a detach"
[ -s "$work/replay.txt" ] || fail "no replay file written"
grep -q '<failure' "$work/junit.xml" || fail "JUnit XML has no <failure>"
"$conform" --adapter "$adapter" --replay "$work/replay.txt" --no-progress >"$work/replay_out.txt" 2>&1
replay_status=$?
cat "$work/replay_out.txt"
[ "$replay_status" -eq 1 ] || fail "replaying the recorded case exited $replay_status, expected 1"
echo "expect_counterexample: caught; counterexample shrunk from $unshrunk to $length commands; replay fails again"
