#!/bin/sh
# Runs TLC on KnIommu.tla with KnIommu.cfg when TLA2TOOLS_JAR names a tla2tools.jar; otherwise
# prints SKIPPED and exits 77 (ctest SKIP_RETURN_CODE), never a silent pass.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${TLA2TOOLS_JAR:-}" ] || [ ! -f "${TLA2TOOLS_JAR}" ]; then
  echo "SKIPPED: set TLA2TOOLS_JAR to a tla2tools.jar to model-check spec/KnIommu.tla with TLC"
  exit 77
fi
if ! command -v java >/dev/null 2>&1; then
  echo "SKIPPED: no java on PATH"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/KnIommu.tla" "$here/KnIommu.cfg" "$work/"
cd "$work"
exec java -XX:+UseParallelGC -cp "$TLA2TOOLS_JAR" tlc2.TLC -workers auto -deadlock \
  -config KnIommu.cfg KnIommu.tla
