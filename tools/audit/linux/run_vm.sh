#!/usr/bin/env bash
# Boots the Linux guest under QEMU (TCG) with Linux's own intel-iommu driver programming QEMU's
# VT-d unit, waits for the guest to print its kprobe record of every attach/map/unmap, runs
# COMMAND with the QMP socket and the record, then kills QEMU by its PID (on every path).
#   run_vm.sh WORK_DIR AW_BITS COMMAND...
# COMMAND sees KNIOMMU_QMP (QMP socket), KNIOMMU_RECORD (the guest's trace text) and
# KNIOMMU_SERIAL (the whole console log). KNIOMMU_VTD_OPTIONS appends options to the unit
# (e.g. ",x-scalable-mode=on" to see the capture refuse scalable mode).
# Exit status: COMMAND's; 77 (skipped) when QEMU or the guest packages are missing, with the
# reason on stdout; 1 when the guest does not boot.
set -uo pipefail
work=$1 aw=$2; shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
guest=${KNIOMMU_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kniommu/linux-guest}
boot_limit=${KNIOMMU_BOOT_TIMEOUT:-240}
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || { echo "SKIPPED: qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"; exit 77; }
[ -e "$guest/ready" ] || { echo "SKIPPED: no guest kernel/busybox in $guest (run scripts/bootstrap)"; exit 77; }
kernel=$(ls "$guest"/root/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$kernel" ] && [ -x "$guest/root/bin/busybox" ] || { echo "SKIPPED: $guest is incomplete (rerun scripts/bootstrap)"; exit 77; }

rm -rf "$work" && mkdir -p "$work" || exit 1
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ]; then
    kill -TERM "$qemu_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
  fi
  [ -n "${KNIOMMU_KEEP_VM_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/make_initramfs.sh" "$guest/root" "$work/initrd.gz" || { echo "cannot build the initramfs"; exit 1; }
truncate -s 16M "$work/nvme.img"
# Boot-time kprobes (registered at fs_initcall, before intel_iommu_init) record every attach,
# map and unmap. dev=+0(+0(%si)) is the device name: the kobject is struct device's first
# member and its name the kobject's first member.
probes='p:att,intel_iommu_attach_device,dom=%di,dev=+0(+0(%si)):string'
probes+=';p:imap,intel_iommu_map_pages,dom=%di,iova=%si,paddr=%dx,pgsize=%cx,pgcount=%r8,prot=%r9'
probes+=';p:iunmap,intel_iommu_unmap_pages,dom=%di,iova=%si,pgsize=%dx,pgcount=%cx'
append="console=ttyS0 loglevel=1 intel_iommu=on iommu=nopt iommu.strict=1 iommu.passthrough=0"
# trace_event= also makes the kernel expand the ring buffer to trace_buf_size at boot (without
# it the buffer stays minimal and the record loses events). trace_clock=counter: with the default
# clock, 2 boots of about 18 under TCG printed a record without its early (attach) events while
# the kernel warned about the trace clock; a counter only orders events, which is all we need.
append+=" ipv6.disable=1 panic=-1 trace_buf_size=16M trace_clock=counter trace_event=iommu:*"
append+=" kprobe_event=$probes"
append+=${KNIOMMU_GUEST_APPEND:+ $KNIOMMU_GUEST_APPEND}  # e.g. "iommu=pt" (later options win)
# `timeout` bounds QEMU's life even if this script is killed without running its trap (it
# forwards SIGTERM to QEMU); the trap kills it by PID on every other path.
life=$((boot_limit + ${KNIOMMU_COMMAND_TIMEOUT:-120} + 60))
timeout -k 5 "$life" "$qemu" -machine q35,kernel-irqchip=split -accel tcg -nodefaults -display none -no-reboot \
  -m 512M -smp 1 -device "intel-iommu,intremap=on,caching-mode=off,aw-bits=$aw${KNIOMMU_VTD_OPTIONS:-}" \
  -device e1000,netdev=n0,addr=2 -netdev user,id=n0 -device edu,addr=3 \
  -drive "file=$work/nvme.img,if=none,id=d0,format=raw" -device nvme,drive=d0,serial=vtd0,addr=4 \
  -device virtio-rng-pci,addr=5 \
  -device virtio-rng-pci,addr=6,disable-legacy=on,iommu_platform=on \
  -serial "file:$work/serial.log" -kernel "$kernel" -initrd "$work/initrd.gz" \
  -qmp "unix:$work/qmp.sock,server=on,wait=off" -append "$append" \
  </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!

start=$SECONDS
until grep -q 'KNIOMMU-READY' "$work/serial.log" 2>/dev/null; do
  if ! kill -0 "$qemu_pid" 2>/dev/null; then
    echo "QEMU exited before the guest printed its record:"; cat "$work/qemu.log"; tail -20 "$work/serial.log"
    qemu_pid=; exit 1
  fi
  if [ $((SECONDS - start)) -ge "$boot_limit" ]; then
    echo "the guest printed no record within ${boot_limit} s:"; tail -20 "$work/serial.log"; exit 1
  fi
  sleep 0.5
done
echo "guest up with its record after $((SECONDS - start)) s (aw-bits=$aw)"
tr -d '\r' <"$work/serial.log" | sed -n '/KNIOMMU-TRACE-BEGIN/,/KNIOMMU-TRACE-END/p' >"$work/record.txt"
if ! grep -q 'KNIOMMU-PROBES 3' "$work/serial.log" || ! grep -q ' att: ' "$work/record.txt"; then
  echo "the guest's kprobes recorded no attach (or are not all registered):"
  tr -d '\r' <"$work/serial.log" | grep -E 'KNIOMMU-(PROBES|DMESG)|entries-in-buffer'
  exit 1
fi
if ! grep -q '^# entries-in-buffer/entries-written:' "$work/record.txt"; then
  echo "the guest's record has no trace header; console around the markers:"
  tr -d '\r' <"$work/serial.log" | grep -n -B3 -A3 'KNIOMMU-TRACE' | head -30
  exit 1
fi
grep 'KNIOMMU-INSMOD-FAILED' "$work/serial.log" && echo "(a driver did not load)"
KNIOMMU_QMP=$work/qmp.sock KNIOMMU_RECORD=$work/record.txt KNIOMMU_SERIAL=$work/serial.log \
  timeout -k 5 "${KNIOMMU_COMMAND_TIMEOUT:-120}" "$@"
