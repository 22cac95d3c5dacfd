#!/bin/busybox sh
# PID 1 of the Linux guest (tools/audit/linux/make_initramfs.sh): loads the device drivers so
# Linux's intel-iommu driver builds live tables, brings the NIC up (receive buffers get mapped),
# then freezes the boot-time kprobe record (see run_vm.sh) and prints it on the serial console
# between markers. Afterwards it idles: the outside capture walks the tables of a quiet guest.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
while read -r m; do insmod "/lib/modules/$m.ko" || echo "KNIOMMU-INSMOD-FAILED $m"; done </modules
ip link set lo up
for n in /sys/class/net/eth*; do ip link set "${n##*/}" up; done
sleep 2
echo 0 >/sys/kernel/tracing/tracing_on
echo; echo KNIOMMU-TRACE-BEGIN  # on a line of its own even after a partial console line
cat /sys/kernel/tracing/trace
echo KNIOMMU-TRACE-END
# Which probes are registered, and kernel messages about them (to diagnose an empty record).
echo "KNIOMMU-PROBES $(grep -c . /sys/kernel/tracing/kprobe_events)"
dmesg | grep -i -E 'kprobe|trace' | sed 's/^/KNIOMMU-DMESG /' | tail -5
echo KNIOMMU-READY
while :; do sleep 3600; done
