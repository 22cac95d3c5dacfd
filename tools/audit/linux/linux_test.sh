#!/usr/bin/env bash
# CTest `linux.*`: boots the Linux guest (run_vm.sh; one boot serves every assertion), audits it
# over QMP and requires: the audit equals Linux's own kprobe record for every device (IOVA->PA
# and W), the e1000/nvme/AHCI ring and queue registers translate through their own domain, a
# memory dump gives the same snapshot offline, the Linux findings are reported, a policy turns
# reach into violations, and seeded bugs make the judge fail. At aw-bits 39 it first checks that
# a guest which does not come up in time is killed.
#   linux_test.sh KNIOMMU_AUDIT LINUX_VM_CHECK WORK_DIR AW_BITS
# Exit 0 pass, 1 fail, 77 skipped (QEMU or the guest packages missing).
set -uo pipefail
audit=$1 check=$2 work=$3 aw=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
levels=$([ "$aw" = 48 ] && echo 4 || echo 3)
export audit check levels aw here

inside() {
  set -u
  w=$(dirname "$KNIOMMU_QMP")
  fail() { echo "linux_test: FAIL: $*"; exit 1; }
  t0=$(date +%s%N)
  "$audit" --qmp "$KNIOMMU_QMP" --capture "$w/vm.snap" --all "$w/out" >"$w/audit.txt" 2>"$w/audit.err"
  status=$?
  echo "capture + audit over QMP: $((($(date +%s%N) - t0) / 1000000)) ms, exit $status; $(tail -1 "$w/audit.err")"
  [ "$status" -eq 1 ] || fail "audit exit $status (expected 1: the virtio bypass is a violation): $(cat "$w/audit.err")"
  grep -c '^  [0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]\.[0-7]' "$w/audit.txt" | sed 's/^/devices audited: /'
  # The Linux findings, each stated in the report.
  grep -q "\[identity-map\] DID [0-9]* (00:1f.0.*00:1f.2.*00:1f.3.*including all of 0-16 MiB" "$w/audit.txt" || fail "no 0-16 MiB identity map shared by the ICH9 functions"
  grep -q "\[shared-domain\] DID [0-9]* is shared by 3 functions: 00:1f.0" "$w/audit.txt" || fail "no shared domain of 00:1f.0/1f.2/1f.3"
  grep -q "\[iommu-bypass\] device 00:05.0 (virtio-rng-pci) bypasses" "$w/audit.txt" || fail "legacy virtio bypass not reported"
  grep -q "\[iommu-bypass\] device 00:06.0" "$w/audit.txt" && fail "virtio with iommu_platform=on reported as bypass"
  grep -q "\[read-forced\]" "$w/audit.txt" || fail "Linux 6.1's forced R not noted"
  grep -q "\[aliased-pages\]" "$w/audit.txt" || fail "e1000 sub-page sharing not reported"
  grep -q "\[empty-domain\] device 00:03.0" "$w/audit.txt" || fail "edu (no driver) not reported as an empty domain"
  grep -q "TT 0, AW $((levels - 2)) ($levels-level tables)" "$w/audit.txt" || fail "no $levels-level domains"
  grep -q '"mappings":\[{"iova"' "$w/out/audit.json" || fail "JSON has no IOVA mappings"
  [ ! -s "$w/out/audit.svg" ] && command -v dot >/dev/null && fail "no SVG"
  grep "^  \[" "$w/audit.txt" | cut -d']' -f1 | sort | uniq -c | tr '\n' ' '; echo

  # The judge, then seeded bugs it must catch.
  "$check" "$w/vm.snap" "$KNIOMMU_RECORD" "$KNIOMMU_QMP" || fail "audit differs from the guest's record"
  for m in drop-map flip-write wrong-domain; do
    "$check" "$w/vm.snap" "$KNIOMMU_RECORD" "$KNIOMMU_QMP" --mutant $m >"$w/mutant.txt" 2>&1
    [ $? -eq 1 ] || { cat "$w/mutant.txt"; fail "mutant $m was not caught"; }
    echo "mutant $m caught: $(grep -m1 FAIL "$w/mutant.txt")"
  done

  # A policy: storage, platform and network zones; no zone but legacy may reach low 16 MiB.
  cat >"$w/policy.txt" <<'POLICY'
device 00:00.0 platform
device 00:1f.0 legacy
device 00:1f.3 platform
device 00:1f.2 storage
device 00:04.0 storage
device 00:02.0 network
device 00:03.0 accel
device 00:05.0 entropy
device 00:06.0 entropy
deny storage 0x0-0xffffff
deny network 0x0-0xffffff
POLICY
  "$audit" --policy "$w/policy.txt" "$w/vm.snap" >"$w/policy.out"; status=$?
  [ "$status" -eq 1 ] || fail "policy audit exit $status"
  grep -q "\[policy-reach\] device 00:1f.2 (zone storage) reaches [0-9]* page(s)" "$w/policy.out" || fail "AHCI reaching 0-16 MiB is not a policy violation: $(grep policy "$w/policy.out")"
  grep -q "\[policy-zone-mix\] devices 00:1f.0 (zone legacy) and 00:1f.2 (zone storage) share domain" "$w/policy.out" || fail "zone mix in one domain not reported"
  grep -q "\[policy-unlisted\]" "$w/policy.out" && fail "a listed device reported as unlisted"
  # Seeded: the same policy without the AHCI line must name it unlisted.
  grep -v 00:1f.2 "$w/policy.txt" >"$w/policy2.txt"
  "$audit" --policy "$w/policy2.txt" "$w/vm.snap" | grep -q "\[policy-unlisted\] device 00:1f.2" || fail "unlisted AHCI not reported"
  echo "policy: $(grep -c '^  \[policy-' "$w/policy.out") policy violations"
  echo "linux_test: ok (aw-bits=$aw)"
}
export -f inside
if [ "$aw" = 39 ] && command -v qemu-system-x86_64 >/dev/null; then
  # Seeded: a 2 s boot limit. QEMU must be killed by its PID and the work directory removed.
  out=$(KNIOMMU_BOOT_TIMEOUT=2 "$here/run_vm.sh" "$work" "$aw" true); s=$?
  if [ "$s" -ne 77 ]; then
    [ "$s" -eq 1 ] && grep -q "printed no record within 2 s" <<<"$out" || { echo "linux_test: FAIL: boot timeout: exit $s: $out"; exit 1; }
    sleep 0.5
    pgrep -f -- "$work/" >/dev/null && { echo "linux_test: FAIL: QEMU still runs after the boot timeout"; exit 1; }
    [ -e "$work" ] && { echo "linux_test: FAIL: run_vm.sh left $work behind"; exit 1; }
    echo "boot timeout: QEMU killed, work directory removed"
  fi
fi
"$here/run_vm.sh" "$work" "$aw" bash -c inside
