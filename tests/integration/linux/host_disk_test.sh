#!/usr/bin/env bash
# Images on the host's disks, written by a Linux guest (docs/storage.md):
# the nested QEMU machine gets three disks that Dom0 drives itself, each
# partitioned with GPT by sfdisk, and images that qemu-img made placed in
# partitions (as a qcow2 on an LVM volume would be):
#
#   virtio-blk-pci  vd.raw    p1 "scratch" (left alone), p2 "images": qcow2
#   nvme            nvme.raw  p1 "vhd": a dynamic VHD, p2 "spare" (left alone)
#   AHCI port 0     sd.raw    p1 "raw": the partition itself as a raw disk
#   AHCI port 2     a SATA CD-ROM, which Dom0 reports and leaves alone
#
# host_disk.session creates a guest whose xvda, xvdb and xvdc are those
# (access=rw) and whose xvdd is the known-pattern image among Dom0's files;
# the guest's /init copies xvdd onto the other three and reports the
# SHA-256 of what it reads back. Afterwards, here on the host, the
# partitions are cut out of the disk files and checked by qemu-img: the
# qcow2 passes `qemu-img check`, and qcow2, VHD and raw all hold the pattern
# (`qemu-img compare`); the scratch partition is still zeros and sfdisk
# still finds the partition tables intact (nothing was written outside the
# partitions).
#
#   host_disk_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "host_disk_test: FAIL: $*"; exit 1; }
pattern=$build/disks/pattern.raw
[ -f "$pattern" ] || fail "no $pattern (build first)"

# gpt DISK SIZE "start=..., size=..., name=..." ...: a GPT-partitioned disk.
gpt() {
  local disk=$1 size=$2
  shift 2
  truncate -s "$size" "$disk"
  { echo "label: gpt"; printf '%s\n' "$@"; } | sfdisk -q "$disk" >/dev/null
}
gpt "$work/vd.raw" 64M "start=2048, size=16384, name=scratch" "start=18432, size=65536, name=images"
gpt "$work/nvme.raw" 32M "start=2048, size=32768, name=vhd" "start=34816, size=8192, name=spare"
gpt "$work/sd.raw" 16M "start=2048, size=8192, name=raw"
qemu-img create -q -f qcow2 "$work/a.qcow2" 2M
qemu-img create -q -f vpc "$work/b.vhd" 2M
dd if="$work/a.qcow2" of="$work/vd.raw" bs=512 seek=18432 conv=notrunc status=none
dd if="$work/b.vhd" of="$work/nvme.raw" bs=512 seek=2048 conv=notrunc status=none

export HV_QEMU_EXTRA="-drive file=$work/vd.raw,if=none,id=vd,format=raw,cache=writeback -device virtio-blk-pci,drive=vd
  -drive file=$work/nvme.raw,if=none,id=nv,format=raw -device nvme,serial=hv-nvme-1,drive=nv
  -device ahci,id=ahci -drive file=$work/sd.raw,if=none,id=sd0,format=raw
  -device ide-hd,drive=sd0,bus=ahci.0,serial=hv-sata-1,model=HV-SATA-DISK -device ide-cd,bus=ahci.2"
python3 "$root/tests/integration/dom0/serial_session.py" "$build" svm "$here/host_disk.session" | tee "$work/session.log"
grep -q "serial_session: PASS" "$work/session.log" || fail "the session failed"

# part DISK START SECTORS OUT: a partition's bytes.
part() { dd if="$1" of="$4" bs=512 skip="$2" count="$3" status=none; }
part "$work/vd.raw" 18432 65536 "$work/p-images.qcow2"
part "$work/vd.raw" 2048 16384 "$work/p-scratch"
part "$work/nvme.raw" 2048 32768 "$work/p-vhd.vhd"
part "$work/nvme.raw" 34816 8192 "$work/p-spare"
part "$work/sd.raw" 2048 8192 "$work/p-raw"
qemu-img check -q -f qcow2 "$work/p-images.qcow2" || fail "qemu-img check: the qcow2 image on vda2 is not clean"
qemu-img compare -q -f qcow2 -F raw "$work/p-images.qcow2" "$pattern" || fail "the qcow2 image on vda2 does not hold the pattern"
qemu-img compare -q -f vpc -F raw "$work/p-vhd.vhd" "$pattern" || fail "the VHD on nvme0n1p1 does not hold the pattern"
cmp -s -n "$(stat -c %s "$pattern")" "$work/p-raw" "$pattern" || fail "the raw partition sda1 (AHCI) does not hold the pattern"
cmp -s -n $((16384 * 512)) "$work/p-scratch" /dev/zero || fail "vda1 (scratch) was written to"
cmp -s -n $((8192 * 512)) "$work/p-spare" /dev/zero || fail "nvme0n1p2 (spare) was written to"
for d in vd nvme sd; do
  sfdisk --verify "$work/$d.raw" >/dev/null 2>&1 || fail "the partition table of $d.raw is damaged"
done
echo "host_disk_test: qemu-img check clean; qcow2 (virtio-blk), VHD (NVMe) and raw (AHCI) partitions hold the pattern"
echo "host_disk_test: PASS"
