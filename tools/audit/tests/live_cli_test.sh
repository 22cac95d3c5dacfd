#!/usr/bin/env bash
# kniommu-audit's capture and policy options as a user runs them, without a VM: clear errors and
# exit status 2 for every bad input; a dump capture and a policy that work; and the Linux test's
# skip path (no guest packages -> exit 77 with the reason). Starts no QEMU (the `linux` label does).
# Usage: live_cli_test.sh <kniommu-audit> <make_seed> <linux_test.sh> <work dir>
set -uo pipefail
audit=$1 make_seed=$2 linux_test=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
fail() { echo "live_cli_test: $*" >&2; exit 1; }
expect2() {  # expect2 MESSAGE-REGEX ARGS...: exit 2 and the message on stderr
  local re=$1; shift
  "$audit" "$@" >/dev/null 2>"$work/err"; local s=$?
  [ "$s" -eq 2 ] || fail "$*: exit $s, expected 2"
  grep -Eq -- "$re" "$work/err" || fail "$*: unclear error: $(cat "$work/err")"
}
expect2 "cannot connect to QMP socket" --qmp "$work/no.sock"
expect2 "usage" --dump "$work/x"                                  # no --registers
expect2 "usage" --qmp "$work/a" "$work/b.snap"                    # two sources
expect2 "--registers: registers need all of" --dump "$work/x" --registers cap=1
expect2 "cannot open dump" --dump "$work/x" --registers cap=1,ecap=0,gsts=0,rtaddr=0
: >"$work/empty.img"
expect2 "scalable mode" --dump "$work/empty.img" --registers cap=1,ecap=0,gsts=0xc0000000,rtaddr=0x1400
expect2 "root table .* outside the memory in the dump" --dump "$work/empty.img" --registers cap=1,ecap=0,gsts=0xc0000000,rtaddr=0x1000

# A dump of an (empty) 8 KiB memory with translation off: captured, audited, snapshot written.
head -c 8192 /dev/zero >"$work/zero.img"
"$audit" --dump "$work/zero.img" --registers cap=0x00d2008c22260206,ecap=0xf00f4a,gsts=0,rtaddr=0 \
  --capture "$work/zero.snap" >"$work/out.txt" 2>"$work/err"; s=$?
[ "$s" -eq 1 ] && grep -q "translation-disabled" "$work/out.txt" || fail "zero dump: exit $s $(cat "$work/err")"
"$audit" "$work/zero.snap" >/dev/null; [ $? -eq 1 ] || fail "--capture did not write a readable snapshot"

"$make_seed" "$work/seed.snap" || fail "no seed"
printf 'device 00:01.0 a\nallow a 0x0-0xfff Q\n' >"$work/bad.policy"
expect2 "policy .*: line 2: bad permission 'Q'" --policy "$work/bad.policy" "$work/seed.snap"
expect2 "policy .*: cannot read" --policy "$work/none.policy" "$work/seed.snap"
printf '# names no device of the seed\ndevice 00:1f.7 other\n' >"$work/p.policy"
"$audit" --policy "$work/p.policy" "$work/seed.snap" >"$work/out.txt"
grep -q "\[policy-unlisted\]" "$work/out.txt" || fail "policy: unlisted devices not reported"

out=$(KNIOMMU_GUEST_CACHE="$work/no-guest" "$linux_test" "$audit" /bin/false "$work/vm" 39); s=$?
[ "$s" -eq 77 ] && grep -q "^SKIPPED: " <<<"$out" || fail "missing guest packages: exit $s, output: $out"
echo "live_cli_test: ok"
