#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then configures, builds and runs the consumer
# project against it.
# Usage: run.sh <cmake> <build dir> <consumer source> <work dir> <c++ compiler> [cxx flags] [link flags]
set -euo pipefail
cmake=$1 build=$2 src=$3 work=$4 cxx=$5 cxxflags=${6:-} ldflags=${7:-}
rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -f "$work/prefix/lib/cmake/kniommu/kniommuConfig.cmake" || test -f "$work/prefix/lib64/cmake/kniommu/kniommuConfig.cmake"
"$cmake" -S "$src" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_PREFIX_PATH="$work/prefix"
"$cmake" --build "$work/consumer"
"$work/consumer/consumer"
"$work/consumer/conformance_consumer"
