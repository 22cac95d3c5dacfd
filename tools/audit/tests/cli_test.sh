#!/usr/bin/env bash
# kniommu-audit as a user runs it: exit status per outcome, each output format, clear errors.
# Usage: cli_test.sh <kniommu-audit> <make_seed> <work dir>
set -uo pipefail
audit=$1 make_seed=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "cli_test: $*" >&2; exit 1; }
"$make_seed" "$work/seed.snap" || fail "cannot write the seed snapshot"

# The seed snapshot has violations (two domains share tables and writable pages): exit 1.
"$audit" "$work/seed.snap" >"$work/out.txt"; status=$?
[ "$status" -eq 1 ] || fail "text: exit $status, expected 1"
grep -q "^Devices (2)" "$work/out.txt" || fail "text: no device list"
grep -q "\[shared-table-page\]" "$work/out.txt" || fail "text: shared table not reported"

"$audit" --format json -o "$work/out.json" "$work/seed.snap"; status=$?
[ "$status" -eq 1 ] || fail "json: exit $status"
grep -q '"kind":"shared-writable"' "$work/out.json" || fail "json: no shared-writable violation"

"$audit" --format dot "$work/seed.snap" >"$work/out.dot"
head -1 "$work/out.dot" | grep -q "^digraph kniommu" || fail "dot: not a digraph"
if command -v dot >/dev/null; then
  "$audit" --svg "$work/out.svg" --all "$work/all" "$work/seed.snap" >/dev/null
  grep -q "<svg" "$work/out.svg" || fail "svg: not written"
  for ext in txt json dot svg; do [ -s "$work/all/audit.$ext" ] || fail "--all: no audit.$ext"; done
fi

# Truncated and foreign files: exit 2 and a message naming the byte offset.
head -c 100 "$work/seed.snap" >"$work/truncated.snap"
"$audit" "$work/truncated.snap" 2>"$work/err.txt"; status=$?
[ "$status" -eq 2 ] || fail "truncated: exit $status, expected 2"
grep -q "invalid snapshot: byte [0-9]*: .*runs past the end" "$work/err.txt" || fail "truncated: unclear error: $(cat "$work/err.txt")"
echo "this text file is not a kniommu snapshot" >"$work/text.snap"
"$audit" "$work/text.snap" 2>"$work/err.txt"; status=$?
[ "$status" -eq 2 ] && grep -q "bad magic" "$work/err.txt" || fail "foreign file: exit $status / $(cat "$work/err.txt")"
"$audit" --format yaml "$work/seed.snap" 2>/dev/null; status=$?
[ "$status" -eq 2 ] || fail "bad usage: exit $status"
echo "cli_test: ok"
