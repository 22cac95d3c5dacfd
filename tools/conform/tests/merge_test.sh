#!/usr/bin/env bash
# Sharded runs and their union: three shards of one run (same seed), merged from their JSON and
# from their JUnit, must give exactly the unsharded run's cases, commands and coverage counters
# (each case runs on exactly one shard and generates the same commands there). A failing shard
# shows up in the union with its replay file. --require-coverage fails a run that missed a
# documented path.
# Usage: merge_test.sh <kniommu-conform> <broken adapter .so> <work dir>
set -uo pipefail
conform=$1 broken=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
fail() { echo "merge_test: $*" >&2; exit 1; }
run=("$conform" --config l4_sp,disabled --seed 21 --cases 12 --no-progress)

"${run[@]}" --coverage-out "$work/all.json" >"$work/all.txt" 2>&1 || fail "unsharded run failed"
for i in 0 1 2; do
  "${run[@]}" --shard $i/3 --coverage-out "$work/s$i.json" --junit "$work/s$i.xml" \
    >"$work/s$i.txt" 2>&1 || fail "shard $i/3 failed"
done
"$conform" merge --coverage-out "$work/merged_json.json" "$work"/s?.json >"$work/m_json.txt" ||
  fail "merge of JSON exited $?"
"$conform" merge --coverage-out "$work/merged_xml.json" "$work"/s?.xml >"$work/m_xml.txt" ||
  fail "merge of JUnit exited $?"
grep -q "MERGED: CONFORMS" "$work/m_json.txt" || fail "no merged verdict"
grep -q "Slowest cases:" "$work/m_json.txt" || fail "no slowest cases"
grep -q "^Coverage: " "$work/m_json.txt" || fail "no coverage table"

# cases/commands per configuration and every coverage counter: "config key value" lines.
figures() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["configs"]:
    print(c["name"], "cases", c["cases"])
    print(c["name"], "commands", c["commands"])
    for k, v in sorted(c["coverage"]["counts"].items()):
        print(c["name"], k, v)
    print(c["name"], "missing", " ".join(sorted(c["coverage"]["missing"])))
PY
}
figures "$work/all.json" >"$work/all.fig"
figures "$work/merged_json.json" >"$work/mj.fig"
figures "$work/merged_xml.json" >"$work/mx.fig"
[ "$(grep -c . "$work/all.fig")" -gt 20 ] || fail "too few figures in the unsharded run"
diff "$work/all.fig" "$work/mj.fig" >&2 || fail "union of JSON shards differs from the unsharded run"
diff "$work/all.fig" "$work/mx.fig" >&2 || fail "union of JUnit shards differs from the unsharded run"
# Each shard ran a part: no shard alone has all the cases.
for i in 0 1 2; do
  figures "$work/s$i.json" | grep -q "^l4_sp cases 12$" && fail "shard $i ran every case"
done

# A failing shard: its failure and replay file appear in the union; the exit status is 1.
"$conform" --adapter "$broken" --config l4_sp --seed 21 --cases 300 --shard 0/2 --no-progress \
  --replay-out "$work/replay0.txt" --coverage-out "$work/f0.json" >/dev/null 2>&1
"$conform" --adapter "$broken" --config l4_sp --seed 21 --cases 2 --shard 1/2 --no-progress \
  --coverage-out "$work/f1.json" >/dev/null 2>&1
"$conform" merge "$work/f0.json" "$work/f1.json" >"$work/m_fail.txt"
status=$?
[ "$status" -eq 1 ] || fail "merge with a failing shard exited $status, expected 1"
grep -q "replay file: $work/replay0.txt" "$work/m_fail.txt" || fail "failing shard's replay file not listed"
grep -q "MERGED: DOES NOT CONFORM" "$work/m_fail.txt" || fail "no failing verdict"

# --require-coverage: a tiny run misses documented Retcodes and must fail, naming them.
"$conform" --config l4_sp --seed 21 --cases 2 --no-progress --require-coverage >"$work/req.txt" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "--require-coverage on a 2-case run exited $status, expected 1"
grep -q "coverage: never observed .*call:" "$work/req.txt" || fail "--require-coverage did not name what was missing"
echo "merge_test: union of 3 shards (JSON and JUnit) equals the unsharded run; failures carry replay files; --require-coverage fails a thin run"
