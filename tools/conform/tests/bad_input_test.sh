#!/usr/bin/env bash
# Bad input to every tool: a clear message and exit status 2, never a crash, a hang or a verdict.
# One check per kind of input: directory, FIFO (must not block), unreadable, empty, huge, sparse,
# foreign content; for --replay also a file recorded for another configuration, seed, mutant or
# adapter; for merge malformed, foreign, mismatched and duplicate shard files.
# Usage: bad_input_test.sh <kniommu-audit> <kniommu-conform> <broken adapter .so> <work dir>
set -uo pipefail
audit=$1 conform=$2 broken=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "bad_input_test: $*" >&2; failures=$((failures + 1)); }

# expect2 NAME PATTERN COMMAND...: exit status 2 within 20 s and stderr matching PATTERN.
expect2() {
  local name=$1 pattern=$2
  shift 2
  timeout 20 "$@" >"$work/out" 2>"$work/err" </dev/null
  local status=$?
  if [ "$status" -eq 124 ]; then fail "$name: hung (killed after 20 s)"; return; fi
  [ "$status" -eq 2 ] || { fail "$name: exit $status, expected 2: $(head -c 300 "$work/err")"; return; }
  grep -qE "$pattern" "$work/err" || fail "$name: unclear message: $(head -c 300 "$work/err")"
  ! grep -q "CONFORMS\|DOES NOT CONFORM" "$work/out" || fail "$name: printed a verdict"
}

# The kinds of bad files, made once.
mkdir "$work/dir"
mkfifo "$work/fifo"
: >"$work/empty"
truncate -s 3G "$work/huge"           # sparse too: no blocks allocated
truncate -s 65536 "$work/sparse"      # a hole: 64 KiB of zeros
echo "root:x:0:0:root:/root:/bin/bash" >"$work/passwd"
echo secret >"$work/unreadable" && chmod 000 "$work/unreadable"
# Root reads any file: then run the unreadable-file checks as user nobody (setpriv), if possible.
as_user=()
can_test_unreadable=1
if cat "$work/unreadable" >/dev/null 2>&1; then
  can_test_unreadable=0
  if command -v setpriv >/dev/null &&
     setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$audit" 2>/dev/null &&
     setpriv --reuid=nobody --regid=nogroup --clear-groups test -d "$work" 2>/dev/null; then
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    can_test_unreadable=1
  else
    echo "bad_input_test: running as root without setpriv: unreadable-file checks skipped" >&2
  fi
fi

for tool in audit replay merge; do
  case $tool in
    audit) run=("$audit") ;;
    replay) run=("$conform" --no-progress --replay) ;;
    merge) run=("$conform" merge) ;;
  esac
  expect2 "$tool directory" "is a directory" "${run[@]}" "$work/dir"
  expect2 "$tool FIFO" "is a FIFO" "${run[@]}" "$work/fifo"
  expect2 "$tool empty" "is empty" "${run[@]}" "$work/empty"
  expect2 "$tool huge" "is too large" "${run[@]}" "$work/huge"
  expect2 "$tool missing" "cannot open" "${run[@]}" "$work/no-such-file"
  if [ "$can_test_unreadable" -eq 1 ]; then
    expect2 "$tool unreadable" "cannot open: Permission denied" "${as_user[@]}" "${run[@]}" "$work/unreadable"
  fi
done
expect2 "adapter directory" "cannot load adapter .*is a directory" "$conform" --adapter "$work/dir"
expect2 "adapter FIFO" "cannot load adapter .*is a FIFO" "$conform" --adapter "$work/fifo"
expect2 "adapter text file" "cannot load adapter" "$conform" --adapter "$work/passwd"
expect2 "JUnit into a FIFO" "is a FIFO, not a file to write" "$conform" --junit "$work/fifo" --cases 1
expect2 "JSON into a directory" "is a directory, not a file to write" "$conform" --coverage-out "$work/dir" --cases 1
expect2 "audit output into a FIFO" "is a FIFO, not a file to write" "$audit" -o "$work/fifo" "$work/passwd"
expect2 "audit SVG into a directory" "is a directory, not a file to write" "$audit" --svg "$work/dir" "$work/passwd"
expect2 "audit sparse" "invalid snapshot: byte 0: .*bad magic" "$audit" "$work/sparse"
expect2 "audit foreign" "bad magic" "$audit" "$work/passwd"
expect2 "replay sparse" "not a kniommu replay file" "$conform" --replay "$work/sparse"
expect2 "replay foreign" "not a kniommu replay file" "$conform" --replay "$work/passwd"
expect2 "merge sparse" "neither JSON .* nor JUnit XML" "$conform" merge "$work/sparse"
expect2 "merge foreign" "neither JSON .* nor JUnit XML" "$conform" merge "$work/passwd"

# A real replay file (the broken adapter fails), then edited copies of it.
rp=("$conform" --adapter "$broken" --no-progress)
"${rp[@]}" --config l4_sp --seed 5 --cases 300 --replay-out "$work/replay.txt" >"$work/fail_out" 2>&1
if [ -s "$work/replay.txt" ]; then
  expect2 "replay for another configuration" "recorded for configuration l4_sp, not for --config l3_nosp" \
    "${rp[@]}" --replay "$work/replay.txt" --config l3_nosp
  expect2 "replay for another seed" "recorded with seed 5, not --seed 6" \
    "${rp[@]}" --replay "$work/replay.txt" --seed 6
  expect2 "replay for another mutant" "recorded with mutant '', not --mutant" \
    "${rp[@]}" --replay "$work/replay.txt" --mutant SomeMutant
  expect2 "replay of another adapter" "recorded with adapter 'broken: detach keeps access', this run uses 'kniommu'" \
    "$conform" --no-progress --replay "$work/replay.txt"
  sed 's/^config=.*/config=l3_nosp/' "$work/replay.txt" >"$work/other_case.txt"
  expect2 "replay string of another case" "recorded for another case than refinement/l3_nosp" \
    "${rp[@]}" --replay "$work/other_case.txt"
  sed 's/^config=.*/config=no_such_hw/' "$work/replay.txt" >"$work/unknown_config.txt"
  expect2 "replay of an unknown configuration" "does not know" "${rp[@]}" --replay "$work/unknown_config.txt"
  sed 's/^RC_PARAMS=.*/RC_PARAMS=reproduce=!!!/' "$work/replay.txt" >"$work/bad_rc.txt"
  expect2 "replay with a broken reproduce string" "RC_PARAMS is not a RapidCheck reproduce string|another case" \
    "${rp[@]}" --replay "$work/bad_rc.txt"
  grep -v '^seed=' "$work/replay.txt" >"$work/no_seed.txt"
  expect2 "replay without a seed" "incomplete replay file" "${rp[@]}" --replay "$work/no_seed.txt"
  # The untouched file still replays to the recorded failure: the checks above refuse only bad input.
  timeout 120 "${rp[@]}" --replay "$work/replay.txt" >"$work/out" 2>&1
  [ $? -eq 1 ] || fail "the recorded replay file no longer replays to a failure"
else
  fail "the broken adapter's run wrote no replay file: $(tail -5 "$work/fail_out")"
fi
RC_PARAMS="max_success=banana" expect2 "malformed RC_PARAMS" "RC_PARAMS" "$conform" --cases 1

# Shard files: two good ones, then malformed, foreign, mismatched and duplicate ones.
for i in 0 1; do
  "$conform" --config disabled --seed 9 --cases 4 --shard $i/2 --no-progress \
    --coverage-out "$work/s$i.json" --junit "$work/s$i.xml" >/dev/null 2>&1 ||
    fail "shard $i/2 did not pass"
done
"$conform" --config disabled --seed 10 --cases 4 --shard 1/2 --no-progress \
  --coverage-out "$work/other_seed.json" >/dev/null 2>&1
head -c 200 "$work/s0.json" >"$work/truncated.json"
head -c 300 "$work/s0.xml" >"$work/truncated.xml"
echo '{"tool":"something-else","format":1}' >"$work/foreign.json"
echo '<testsuites><testsuite name="x"><testcase name="a" time="1"/></testsuite></testsuites>' >"$work/foreign.xml"
sed 's/"commands":[0-9]*/"commands":-3/' "$work/s0.json" >"$work/negative.json"
expect2 "merge truncated JSON" "malformed JSON" "$conform" merge "$work/truncated.json" "$work/s1.json"
expect2 "merge truncated XML" "malformed XML" "$conform" merge "$work/truncated.xml" "$work/s1.xml"
expect2 "merge foreign JSON" "not written by kniommu-conform" "$conform" merge "$work/foreign.json"
expect2 "merge foreign JUnit" "no kniommu-conform properties" "$conform" merge "$work/foreign.xml"
expect2 "merge bad number" "commands is not a non-negative integer" "$conform" merge "$work/negative.json"
expect2 "merge shards of two runs" "not shards of one run" "$conform" merge "$work/s0.json" "$work/other_seed.json"
expect2 "merge one shard twice" "given twice" "$conform" merge "$work/s0.json" "$work/s0.xml"
expect2 "merge incomplete" "1 of 2 shards missing; no verdict" "$conform" merge "$work/s0.json"
grep -q "INCOMPLETE: shard(s) 1 of 2 missing" "$work/out" || fail "merge incomplete: not reported"
expect2 "merge unknown option" "unknown argument" "$conform" merge --frobnicate "$work/s0.json"

[ "$failures" -eq 0 ] || { echo "bad_input_test: $failures failure(s)" >&2; exit 1; }
echo "bad_input_test: every bad input refused with exit status 2 and a clear message"
