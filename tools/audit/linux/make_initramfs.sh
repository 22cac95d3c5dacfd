#!/usr/bin/env bash
# Builds the Linux guest's initramfs (gzip'd cpio, newc) from the unpacked Debian kernel and
# busybox-static packages (scripts/bootstrap). The .deb has no modules.dep, so the load order is
# computed here from each module's own `depends=` field (.modinfo section), dependencies first.
# Usage: make_initramfs.sh GUEST_ROOT OUT.cpio.gz
set -euo pipefail
root=$1 out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kver=$(ls "$root/lib/modules" | head -n1)
mods="$root/lib/modules/$kver/kernel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Module name -> file; names use '-' and '_' interchangeably.
declare -A file_of=()
while IFS= read -r f; do
  n=${f##*/}; n=${n%.ko}; file_of[${n//-/_}]=$f
done < <(find "$mods" -name '*.ko')

order=() declare -A seen=()
add() {
  local n=${1//-/_} d
  [ -n "${seen[$n]:-}" ] && return 0
  seen[$n]=1
  [ -n "${file_of[$n]:-}" ] || { echo "make_initramfs: no module $n" >&2; exit 1; }
  for d in $(tr '\0' '\n' <"${file_of[$n]}" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do add "$d"; done
  order+=("$n")
}
# The drivers of the guest's devices (e1000, nvme, AHCI, virtio) and the crypto the
# t10-pi/crc modules look up at load time.
for m in crc64_rocksoft_generic crct10dif_generic e1000 nvme ahci virtio_pci virtio_rng; do add "$m"; done

mkdir -p "$work"/{bin,dev,proc,sys,lib/modules}
cp "$root/bin/busybox" "$work/bin/busybox"
for n in "${order[@]}"; do cp "${file_of[$n]}" "$work/lib/modules/$n.ko"; echo "$n" >>"$work/modules"; done
cp "$here/guest_init.sh" "$work/init"
chmod 755 "$work/init" "$work/bin/busybox"
# busybox's own cpio applet writes the archive: no host cpio needed.
(cd "$work" && find . | sort | "$root/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
