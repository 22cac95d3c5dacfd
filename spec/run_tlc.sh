#!/bin/sh
# Runs TLC on a module of this directory with one of its configurations, in a private temporary
# directory (TLC's metadir/states, its unpacked standard modules), under a time limit. The java
# process is killed by its PID when the limit passes or when this script is stopped; the
# temporary directory is removed on every path.
#
#   run_tlc.sh [options] CONFIG.cfg [MODULE.tla]          (MODULE defaults to KnIommuMC.tla)
#     --limit S             kill TLC after S seconds (default 170); exit 1 then
#     --workers N           TLC workers (default 2)
#     --deep                skip (exit 77) unless KNIOMMU_DEEP=1
#     --simulate DEPTH      random simulation (-simulate -depth DEPTH) for the whole limit
#     --bounded             a search stopped by the limit passes if it found no violation (it
#                           says so: "not exhaustive"); without it, only a finished search passes
#     --expect-violation I  pass only if TLC reports invariant I violated
#     --extra FILE          copy FILE into the working directory too (repeatable)
#
# Prints one summary line: distinct states, depth, seconds. Exit 0 pass, 1 fail, 77 skipped
# (no TLA2TOOLS_JAR / java: ctest SKIP_RETURN_CODE, never a silent pass).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
limit=170 workers=2 deep=0 simulate="" expect="" extra="" bounded=0
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --deep) deep=1; shift ;;
    --simulate) simulate=$2; bounded=1; shift 2 ;;
    --bounded) bounded=1; shift ;;
    --expect-violation) expect=$2; shift 2 ;;
    --extra) extra="$extra $2"; shift 2 ;;
    -*) echo "run_tlc.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: run_tlc.sh [options] CONFIG.cfg [MODULE.tla]" >&2; exit 2; }
cfg=$1
module=${2:-KnIommuMC.tla}
if [ "$deep" = 1 ] && [ "${KNIOMMU_DEEP:-0}" != 1 ]; then
  echo "SKIPPED: a deep check; set KNIOMMU_DEEP=1 to run it"
  exit 77
fi
if [ -z "${TLA2TOOLS_JAR:-}" ] || [ ! -f "${TLA2TOOLS_JAR}" ]; then
  echo "SKIPPED: set TLA2TOOLS_JAR to a tla2tools.jar to model-check spec/KnIommu.tla with TLC"
  exit 77
fi
if ! command -v java >/dev/null 2>&1; then
  echo "SKIPPED: no java on PATH (scripts/bootstrap installs default-jre-headless)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kniommu-tlc.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    sleep 1
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cp "$here"/*.tla "$work/"
cp "$cfg" "$work/run.cfg"
for f in $extra; do cp "$f" "$work/"; done
mode="-deadlock"
[ -n "$simulate" ] && mode="-deadlock -simulate -depth $simulate"
start=$(date +%s)
# TLC's own stop (it then prints its statistics) comes 15 s before the hard limit.
stop_after=$(( limit > 30 ? limit - 15 : limit ))
cd "$work"
# timeout sends TERM at the limit and KILL 10 s later; the background PID is killed by the trap
# if this script itself is stopped (ctest's TIMEOUT).
# shellcheck disable=SC2086
timeout --kill-after=10 "$limit" java -Xss16m -XX:+UseParallelGC -Djava.io.tmpdir="$work" \
  -Dtlc2.TLC.stopAfter="$stop_after" -cp "$TLA2TOOLS_JAR" tlc2.TLC -workers "$workers" $mode \
  -metadir "$work/meta" -config run.cfg "$module" >"$work/out.txt" 2>&1 &
pid=$!
set +e
wait "$pid"
rc=$?
set -e
tlc_pid=$pid
pid=""
secs=$(( $(date +%s) - start ))
cat "$work/out.txt"
distinct=$(sed -n 's/.* \([0-9,]*\) distinct states found.*/\1/p' "$work/out.txt" | tail -1)
depth=$(sed -n 's/^The depth of the complete state graph search is \([0-9]*\).*/\1/p' "$work/out.txt" | tail -1)
summary="distinct states ${distinct:-?}, depth ${depth:-?}, ${secs} s, ${workers} workers"
if [ -n "$simulate" ]; then
  checked=$(sed -n 's/.* \([0-9,]*\) states checked.*/\1/p' "$work/out.txt" | tail -1)
  summary="states checked ${checked:-?} in behaviours of depth <= $simulate, ${secs} s, ${workers} workers"
fi
left=$(sed -n 's/.* \([0-9,]*\) states left on queue\..*/\1/p' "$work/out.txt" | tail -1)
summary="$summary${left:+, queue $left}"
if [ -n "$expect" ]; then
  if grep -q "^Error: Invariant $expect is violated" "$work/out.txt"; then
    echo "PASS: TLC reports the seeded bug as: Invariant $expect is violated ($summary)"; exit 0
  fi
  echo "FAIL: expected TLC to report invariant $expect violated (exit $rc; $summary)"; exit 1
fi
if grep -q "^Error:" "$work/out.txt" || { [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ]; }; then
  echo "FAIL: TLC exit $rc ($summary)"; exit 1
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ] || { [ -z "$simulate" ] && [ "${left:-0}" != 0 ]; }; then
  if [ "$bounded" = 1 ]; then
    echo "PASS (bounded, not exhaustive): no violation before the ${limit} s limit; $summary"; exit 0
  fi
  gone=$(kill -0 "$tlc_pid" 2>/dev/null && echo "still running" || echo "stopped")
  echo "FAIL: TLC did not finish within ${limit} s; TLC (pid $tlc_pid) $gone ($summary)"; exit 1
fi
if [ -n "$simulate" ]; then
  echo "PASS: TLC simulate found no violation; $summary"; exit 0
fi
echo "PASS: TLC checked every invariant exhaustively: $summary"
