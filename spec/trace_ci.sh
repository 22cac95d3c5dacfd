#!/bin/sh
# The CI trace-validation checks (CTest, label spec), in a private temporary directory:
#   trace_ci.sh TOOL suite          traces of the suite on every hardware configuration, short
#                                   and long: all must be accepted by KnIommu.tla
#   trace_ci.sh TOOL mutant         a trace recorded under the in-tree mutant DeviceAttachedTwice
#                                   must be rejected at its second attach (and the same case
#                                   without the mutant accepted)
#   trace_ci.sh TOOL seeded         a correct trace (begin, DMA, close, DMA) is accepted by the
#                                   spec and rejected by the spec with SeededBug at the last DMA
# TOOL is kniommu_trace_cases. Exit 77 without TLC (run_tlc.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tool=$1 mode=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/kniommu-trace-ci.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP

# Passes iff run_traces.sh passes and its output names the expected first unmatched event.
expect_reject() {  # CFG EXPECTED-TEXT TRACE
  rc=0
  out=$(sh "$here/run_traces.sh" --cfg "$1" --expect-reject "$3") || rc=$?
  if [ "$rc" != 0 ]; then echo "$out"; exit "$rc"; fi  # 77: no TLC, skipped
  echo "$out"
  case "$out" in
    *"no spec step matches $2"*) echo "PASS: rejected at the expected event ($2)" ;;
    *) echo "FAIL: rejected, but not at \"$2\""; exit 1 ;;
  esac
}

case "$mode" in
  suite)
    start=$(date +%s)
    # Cases grow in length with their index (RapidCheck's size ramp): short and long traces.
    seed=0
    # The standard configurations, from their one list (refinement_tests/src/hw_configs.def).
    configs=$(sed -n 's/^KNIOMMU_HW_CONFIG(\([a-z0-9_]*\),.*/\1/p' \
              "$here/../refinement_tests/src/hw_configs.def")
    [ -n "$configs" ] || { echo "FAIL: no configuration in hw_configs.def"; exit 1; }
    for cfg in $configs; do
      seed=$((seed + 1))  # a different command sequence on each configuration
      "$tool" suite "$dir" "$cfg" 4 30 "$seed" >/dev/null
    done
    "$tool" suite "$dir" l4_sp 3 80 7 >/dev/null  # and three longer ones
    "$tool" directed "$dir" l4_sp close >/dev/null
    echo "traces written in $(( $(date +%s) - start )) s"
    sh "$here/run_traces.sh" "$dir"/*.trace.tla
    ;;
  mutant)
    "$tool" directed "$dir" l4_sp attach-twice DeviceAttachedTwice
    set -- "$dir"/*-failed.trace.tla
    [ -f "$1" ] || { echo "FAIL: the mutant produced no failing case"; exit 1; }
    expect_reject "$here/KnIommuTrace.cfg" "event 4: AttachDevice(pid=2, bdf=0x8) -> rcOk" "$1"
    # The random suite under the same mutant (fixed seed, no shrinking): its failing case's
    # trace is rejected too.
    mkdir "$dir/random"
    "$tool" suite "$dir/random" l4_sp 50 30 3 DeviceAttachedTwice
    sh "$here/run_traces.sh" --expect-reject "$dir"/random/*-failed.trace.tla
    # Without the mutant the same case is accepted: the rejection is the mutant's doing.
    mkdir "$dir/correct"
    "$tool" directed "$dir/correct" l4_sp attach-twice
    sh "$here/run_traces.sh" "$dir"/correct/*.trace.tla
    ;;
  seeded)
    "$tool" directed "$dir" l4_sp close
    set -- "$dir"/*.trace.tla
    sh "$here/run_traces.sh" "$1"
    expect_reject "$here/KnIommuTraceSeeded.cfg" "event 8: Dma(bdf=0x8, read, iova=0x1000, len=8) -> fault 0x6" "$1"
    ;;
  *) echo "usage: trace_ci.sh TOOL suite|mutant|seeded" >&2; exit 2 ;;
esac
