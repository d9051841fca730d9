#!/usr/bin/env bash
# Live snapshots on the host's disk (docs/storage.md): the nested QEMU
# machine gets a virtio-blk disk, partitioned with GPT by sfdisk, with
# images qemu-img made placed in its partitions:
#
#   vda1 "snap-qcow2"  a 4 MiB qcow2, xvda of the guest (which writes it)
#   vda2 "snap-vhd"    a 4 MiB dynamic VHD, xvdb
#   vda3 "raw"         the partition itself as a raw disk
#
# host_snapshot.session takes snapshot s1 during the guest's writes,
# reverts to it, takes s2 and deletes it. Afterwards, here on the host, each
# volume's table of layers (its last 8 KiB) is read, the layers are cut out
# and checked by qemu-img: the base (s1's layer) and the overlay on it check
# clean (the overlay rebased onto the extracted base with `qemu-img rebase
# -u`, as its backing is named "<volume>@s1"); s1's layer holds what the
# restarted guest read first (the revert gave it s1's disk); the overlay
# holds the guest's writes after it (qemu-img map shows data in it) and the
# whole chain reads as what the guest read back at the end. The VHD base
# and its overlay read as the untouched VHD.
#
#   host_snapshot_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "host_snapshot_test: FAIL: $*"; exit 1; }

truncate -s 64M "$work/vd.raw"
{
  echo "label: gpt"
  echo "start=2048, size=32768, name=snap-qcow2"
  echo "start=34816, size=32768, name=snap-vhd"
  echo "start=67584, size=8192, name=raw"
} | sfdisk -q "$work/vd.raw" >/dev/null
qemu-img create -q -f qcow2 "$work/a.qcow2" 4M
qemu-img create -q -f vpc "$work/b.vhd" 4M
dd if="$work/a.qcow2" of="$work/vd.raw" bs=512 seek=2048 conv=notrunc status=none
dd if="$work/b.vhd" of="$work/vd.raw" bs=512 seek=34816 conv=notrunc status=none

export HV_QEMU_EXTRA="-drive file=$work/vd.raw,if=none,id=vd,format=raw,cache=writeback -device virtio-blk-pci,drive=vd"
HV_LOG_LINES=100000 python3 "$root/tests/integration/dom0/serial_session.py" "$build" svm "$here/host_snapshot.session" \
  >"$work/session.log"
tail -n 60 "$work/session.log"
grep -q "serial_session: PASS" "$work/session.log" || fail "the session failed"
# The restarted guest's first look at xvda, and its last (the console's
# replays repeat earlier lines, never these: nothing is replayed after them).
at_s1=$(grep -a "^guest: disk_sha256 vda " "$work/session.log" | tail -1 | awk '{print $4}' | tr -d '\r')
final=$(grep -a "^guest: disk_writes vda stopped " "$work/session.log" | tail -1 | awk '{print $8}' | tr -d '\r')
# The first boot's first look at xvda, before any write.
initial=$(grep -a "^guest: disk_sha256 vda " "$work/session.log" | head -1 | awk '{print $4}' | tr -d '\r')
[ -n "$at_s1" ] && [ -n "$final" ] || fail "the guest's reports are not in the log"
# s1 was taken during the writes: it holds some of them, and more came after.
[ "$at_s1" != "$initial" ] || fail "s1 holds none of the guest's writes"
[ "$final" != "$at_s1" ] || fail "the guest wrote nothing after s1"

dd if="$work/vd.raw" of="$work/vol1" bs=512 skip=2048 count=32768 status=none
dd if="$work/vd.raw" of="$work/vol2" bs=512 skip=34816 count=32768 status=none
# layers VOLUME: "offset length format snapshot" per layer, from the copy of
# the table with a good CRC and the highest generation.
layers() {
  python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
best = None
for c in range(2):
    copy = bytearray(data[len(data) - 8192 + 4096 * c:][:4096])
    if copy[:8] != b"HVCHAIN1":
        continue
    crc = struct.unpack(">I", copy[24:28])[0]
    copy[24:28] = b"\0\0\0\0"
    if zlib.crc32(bytes(copy)) != crc:
        continue
    gen = struct.unpack(">Q", copy[16:24])[0]
    if best is None or gen > best[0]:
        best = (gen, bytes(copy))
if best is None:
    sys.exit("no table")
copy = best[1]
n = struct.unpack(">I", copy[12:16])[0]
for i in range(n):
    r = copy[32 + 80 * i:32 + 80 * (i + 1)]
    off, length, _ = struct.unpack(">QQQ", r[:24])
    name = r[32:80].split(b"\0")[0].decode() or "-"
    print(off, length, {2: "qcow2", 3: "vpc"}.get(r[24], "?"), name)
PY
}
# cut VOLUME OFFSET LENGTH OUT
cut_layer() { python3 -c "import sys; d=open(sys.argv[1],'rb').read(); open(sys.argv[4],'wb').write(d[int(sys.argv[2]):int(sys.argv[2])+int(sys.argv[3])])" "$@"; }

layers "$work/vol1" >"$work/layers1" || fail "vda1 has no valid table of layers"
layers "$work/vol2" >"$work/layers2" || fail "vda2 has no valid table of layers"
cat "$work/layers1"
[ "$(wc -l <"$work/layers1")" = 2 ] || fail "vda1 should have two layers (s1 and the top; s2 was deleted)"
read -r o0 l0 f0 s0 < <(sed -n 1p "$work/layers1")
read -r o1 l1 f1 s1 < <(sed -n 2p "$work/layers1")
[ "$f0 $s0" = "qcow2 s1" ] && [ "$f1 $s1" = "qcow2 -" ] || fail "vda1's layers are not [qcow2 s1, qcow2 top]"
cut_layer "$work/vol1" "$o0" "$l0" "$work/base.qcow2"
cut_layer "$work/vol1" "$o1" "$l1" "$work/top.qcow2"
qemu-img check -q -f qcow2 "$work/base.qcow2" || fail "qemu-img check: s1's layer (the base) is not clean"
qemu-img info -f qcow2 "$work/top.qcow2" | grep -q "backing file: /dev/vda1@s1" || fail "the overlay's backing is not /dev/vda1@s1"
qemu-img rebase -q -u -f qcow2 -F qcow2 -b base.qcow2 "$work/top.qcow2"
qemu-img check -q -f qcow2 "$work/top.qcow2" || fail "qemu-img check: the overlay is not clean"
qemu-img convert -f qcow2 -O raw "$work/base.qcow2" "$work/base.raw"
base_sum=$(sha256sum "$work/base.raw" | cut -d' ' -f1)
[ "$base_sum" = "$at_s1" ] || fail "s1's layer ($base_sum) is not what the reverted guest read ($at_s1)"
qemu-img convert -f qcow2 -O raw "$work/top.qcow2" "$work/top.raw"
top_sum=$(sha256sum "$work/top.raw" | cut -d' ' -f1)
[ "$top_sum" = "$final" ] || fail "the chain reads $top_sum, the guest read back $final"
qemu-img map -f qcow2 --output=json "$work/top.qcow2" | grep -q '"depth": 0, .*"data": true' \
  || fail "the overlay holds none of the guest's writes"

cat "$work/layers2"
read -r o0 l0 f0 s0 < <(sed -n 1p "$work/layers2")
read -r o1 l1 f1 s1 < <(sed -n 2p "$work/layers2")
[ "$f0 $s0" = "vpc s1" ] && [ "$f1" = qcow2 ] || fail "vda2's layers are not [vpc s1, qcow2 top]"
cut_layer "$work/vol2" "$o0" "$l0" "$work/base.vhd"
cut_layer "$work/vol2" "$o1" "$l1" "$work/top2.qcow2"
qemu-img rebase -q -u -f qcow2 -F vpc -b base.vhd "$work/top2.qcow2"
qemu-img check -q -f qcow2 "$work/top2.qcow2" || fail "qemu-img check: the overlay of the VHD is not clean"
qemu-img compare -q -f qcow2 -F vpc "$work/top2.qcow2" "$work/b.vhd" || fail "the VHD's chain does not read as the VHD"
sfdisk --verify "$work/vd.raw" >/dev/null 2>&1 || fail "the partition table of vd.raw is damaged"
echo "host_snapshot_test: base and overlay check clean; s1 holds what the reverted guest read; the chain holds its writes"
echo "host_snapshot_test: PASS"
