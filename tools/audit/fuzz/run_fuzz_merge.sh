#!/usr/bin/env bash
# Bounded libFuzzer run over the merge reader (tools/conform/merge_input.cpp), seeded with a real
# shard's --coverage-out JSON and --junit XML. Compiled with clang++ here, as run_fuzz.sh does.
# Usage: run_fuzz_merge.sh <kniommu-conform> <project source dir> <work dir> <seconds>
set -euo pipefail
conform=$1 root=$2 work=$3 seconds=$4
cxx=${KNIOMMU_FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "run_fuzz_merge: $cxx not found (scripts/bootstrap installs clang)" >&2
  exit 1
fi
rm -rf "$work" && mkdir -p "$work/corpus"
"$conform" --config disabled --seed 4 --cases 3 --no-progress --shard 0/2 \
  --coverage-out "$work/corpus/seed.json" --junit "$work/corpus/seed.xml" >/dev/null
"$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I"$root/tools/conform" -I"$root/refinement_tests/include" -I"$root/impl/include" -I"$root/impl" \
  -o "$work/fuzz_merge" "$root/tools/audit/fuzz/fuzz_merge.cpp" "$root/tools/conform/merge_input.cpp"
"$work/fuzz_merge" -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 \
  -print_final_stats=1 "$work/corpus"
rm -rf "$work"
