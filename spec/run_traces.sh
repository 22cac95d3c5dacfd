#!/bin/sh
# Trace validation: checks each trace (a KnIommuTraceData module written by the conformance
# suite, refinement_tests/src/trace_writer.cpp) with TLC against KnIommuTrace.tla, one TLC run
# per trace through run_tlc.sh (time limit, kill by PID, private temp dir).
#
#   run_traces.sh [--cfg FILE] [--expect-reject] [--limit S] TRACE...
#
# Without --expect-reject: passes iff every trace is accepted (some behaviour of KnIommu.tla
# produces it). With it: passes iff every trace is rejected; either way a rejected trace is
# reported with the first event that has no matching spec step. Prints counts and times.
# Exit 77 (skipped) without TLA2TOOLS_JAR / java, as run_tlc.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cfg=$here/KnIommuTrace.cfg expect=accept limit=120
while [ $# -gt 0 ]; do
  case "$1" in
    --cfg) cfg=$2; shift 2 ;;
    --expect-reject) expect=reject; shift ;;
    --limit) limit=$2; shift 2 ;;
    -*) echo "run_traces.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "run_traces.sh: no traces given" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kniommu-traces.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
start=$(date +%s)
n=0 events=0 bad=0
for trace in "$@"; do
  n=$((n + 1))
  cp "$trace" "$tmp/KnIommuTraceData.tla"
  k=$(grep -c '\\\* event [0-9]*:' "$trace" || true)
  events=$((events + k))
  set +e
  sh "$here/run_tlc.sh" --workers 1 --limit "$limit" --expect-violation TraceIncomplete \
    --extra "$tmp/KnIommuTraceData.tla" "$cfg" KnIommuTrace.tla >"$tmp/out" 2>&1
  rc=$?
  set -e
  if [ "$rc" = 77 ]; then tail -1 "$tmp/out"; exit 77; fi
  if [ "$rc" = 0 ]; then
    verdict=accepted
  elif grep -q "^FAIL: expected TLC to report invariant TraceIncomplete violated" "$tmp/out" &&
       ! grep -q "^Error:" "$tmp/out"; then
    verdict=rejected
    last=$(sed -n 's/^<<"matched", \([0-9]*\)>>$/\1/p' "$tmp/out" | sort -n | tail -1)
    first=$(( ${last:-0} + 1 ))
    what=$(grep "\\\\\\* event $first:" "$trace" | sed 's/.*\\\* event /event /')
    echo "REJECTED $(basename "$trace"): $k events, no spec step matches $what"
  else
    verdict=error
    echo "ERROR $(basename "$trace"): TLC did not decide"; tail -5 "$tmp/out"
  fi
  if [ "$expect" = accept ] && [ "$verdict" != accepted ]; then bad=$((bad + 1)); fi
  if [ "$expect" = reject ] && [ "$verdict" != rejected ]; then
    bad=$((bad + 1)); echo "NOT REJECTED $(basename "$trace"): $verdict"
  fi
done
secs=$(( $(date +%s) - start ))
if [ "$bad" != 0 ]; then
  echo "FAIL: $bad of $n traces not ${expect}ed ($events events, $secs s)"; exit 1
fi
echo "PASS: all $n traces ${expect}ed ($events events, $secs s)"
