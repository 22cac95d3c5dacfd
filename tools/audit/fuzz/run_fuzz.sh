#!/usr/bin/env bash
# Bounded libFuzzer run over the snapshot reader (and the audit, when its headers are given).
# g++ has no libFuzzer, so this compiles the reader and the harness with clang++ itself; CTest
# runs it (label unit) with a time budget. Usage:
#   run_fuzz.sh <tools/audit dir> <work dir> <seconds> [extra include dirs and sources...]
# With extra arguments (the audit's sources and include dirs) the harness also runs the audit.
set -euo pipefail
src=$1 work=$2 seconds=$3
shift 3
cxx=${KNIOMMU_FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "run_fuzz: $cxx not found (scripts/bootstrap installs clang)" >&2
  exit 1
fi
mkdir -p "$work/corpus"
extra=() defines=()
for arg in "$@"; do
  case $arg in
    -I*) extra+=("$arg") ;;
    *.cpp) extra+=("$arg"); defines=(-DKNIOMMU_FUZZ_AUDIT) ;;
  esac
done
common=(-std=c++20 -O1 -g -I"$src")
"$cxx" "${common[@]}" -o "$work/make_seed" "$src/fuzz/make_seed.cpp" "$src/snapshot/writer.cpp"
"$work/make_seed" "$work/corpus/seed.snap" "$work/corpus/seed_pt.snap"
"$cxx" "${common[@]}" "${defines[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -o "$work/fuzz_snapshot" "$src/fuzz/fuzz_snapshot.cpp" "$src/snapshot/reader.cpp" \
  "$src/snapshot/writer.cpp" "${extra[@]}"
# -rss_limit_mb guards against unbounded allocation; the reader's limits must keep it far below.
exec "$work/fuzz_snapshot" -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 \
  -print_final_stats=1 "$work/corpus"
