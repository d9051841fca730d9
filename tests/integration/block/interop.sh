#!/bin/bash
# Interop of hvimg (vmm/block) with QEMU's own tools, which nobody here wrote.
#   interop.sh <case> <hvimg> <qemu-img> <qemu-io> <workdir>
# Cases:
#   read_qemu   images made by qemu-img create/convert and written by qemu-io
#               (qcow2 v2/v3, backing chains, zero clusters, discard,
#               compressed, 512-byte clusters, 1- and 64-bit refcounts, vpc
#               fixed/dynamic) read byte for byte like qemu-img reads them
#   write       images created and written by hvimg pass `qemu-img check` and
#               match a qemu-io-written reference under `qemu-img compare`
#   convert     hvimg convert between raw/qcow2/vpc, checked by qemu-img
#   tool        info/check/map/compare/snapshot output and error behaviour
set -u
case_name=$1 H=$2 QIMG=$3 QIO=$4 W=$5
abs() { case $1 in */*) realpath "$1" ;; *) command -v "$1" ;; esac; }
H=$(abs "$H") QIMG=$(abs "$QIMG") QIO=$(abs "$QIO")
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $*"; }
# Setup steps: qemu-io exits 0 even when a command fails, so read its output.
run() {
    local out
    out=$("$@" 2>&1) || { bad "setup failed: $*: $out"; return; }
    if grep -qiE "fail|error|invalid|cannot|can't" <<<"$out"; then bad "setup: $*: $out"; fi
}

# Read an image with both tools into raw and compare the bytes.
same_as_qemu() { # file [qemu -f format]
    local f=$1 fmt=${2:-}
    rm -f h.raw q.raw
    if ! "$H" convert -O raw "$f" h.raw 2>err.txt; then bad "hvimg convert $f: $(cat err.txt)"; return; fi
    if [ -n "$fmt" ]; then "$QIMG" convert -f "$fmt" -O raw "$f" q.raw; else "$QIMG" convert -O raw "$f" q.raw; fi
    if cmp -s h.raw q.raw; then ok "read $f"; else bad "read $f: bytes differ ($(cmp h.raw q.raw 2>&1 | head -1))"; fi
}

qcheck() { # file: qemu-img check must find no corruption and no leaks
    local out rc
    out=$("$QIMG" check "$1" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then ok "qemu-img check $1"; else bad "qemu-img check $1 (rc $rc): $out"; fi
}

qcompare() { # a b [fmt-a fmt-b]  (qemu-img does not probe fixed VHDs: name vpc)
    local out f=()
    [ $# -ge 4 ] && f=(-f "$3" -F "$4")
    if out=$("$QIMG" compare "${f[@]}" "$1" "$2" 2>&1); then ok "qemu-img compare $1 $2"; else bad "qemu-img compare $1 $2: $out"; fi
}

# The same qemu-io style commands through both tools. QEMU's vpc driver
# ignores discard while hvimg's VHD backend zeroes, so VHD gets no discard.
WORKLOAD=(-c 'write -P 0xab 0 64k' -c 'write -P 0x11 100k 300k' -c 'write -P 0x22 1M 4k'
          -c 'write -P 0x33 1540k 1k' -c 'write -z 128k 64k' -c 'discard 1M 512k'
          -c 'write -P 0x44 7M 1M' -c 'write -P 0x55 6143k 2k' -c 'flush' -c 'write -P 0x66 12M 3M')
VHD_WORKLOAD=(-c 'write -P 0xab 0 64k' -c 'write -P 0x11 100k 300k' -c 'write -P 0x22 1M 4k'
          -c 'write -P 0x33 1540k 1k' -c 'write -z 128k 64k' -c 'write -P 0x44 7M 1M'
          -c 'write -P 0x55 6143k 2k' -c 'flush' -c 'write -P 0x66 12M 3M')

case $case_name in
read_qemu)
    "$QIMG" create -q -f qcow2 -o compat=0.10 v2.qcow2 16M
    run "$QIO" -c 'write -P 0xab 0 64k' -c 'write -P 0x11 5M 100k' -c 'write -P 0x12 16776704 512' v2.qcow2
    same_as_qemu v2.qcow2
    "$QIMG" create -q -f qcow2 v3.qcow2 16M
    run "$QIO" -c 'write -P 0xcd 4k 8k' -c 'write -P 0x7 1M 3M' -c 'write -z 2M 64k' -c 'discard 3M 64k' v3.qcow2
    same_as_qemu v3.qcow2
    "$QIMG" create -q -f qcow2 -o cluster_size=512,refcount_bits=1 small.qcow2 4M
    run "$QIO" -c 'write -P 0x21 1000 100k' -c 'write -P 0x22 3M 1M' small.qcow2
    same_as_qemu small.qcow2
    "$QIMG" create -q -f qcow2 -o cluster_size=2M,refcount_bits=64 large.qcow2 16M
    run "$QIO" -c 'write -P 0x31 3M 5M' large.qcow2
    same_as_qemu large.qcow2
    # Backing chain: raw <- qcow2 v2 <- qcow2 v3 <- qcow2 v3 (zero cluster over backing)
    "$QIMG" create -q -f raw base.raw 16M
    run "$QIO" -f raw -c 'write -P 0x41 0 16M' base.raw
    "$QIMG" create -q -f qcow2 -o compat=0.10 -b base.raw -F raw l1.qcow2
    run "$QIO" -c 'write -P 0x42 1M 1M' l1.qcow2
    "$QIMG" create -q -f qcow2 -b l1.qcow2 -F qcow2 l2.qcow2
    run "$QIO" -c 'write -P 0x43 1536k 8k' -c 'write -z 4M 64k' l2.qcow2
    "$QIMG" create -q -f qcow2 -b l2.qcow2 -F qcow2 l3.qcow2
    run "$QIO" -c 'write -P 0x44 1540k 100' -c 'discard 8M 1M' l3.qcow2
    same_as_qemu l3.qcow2
    [ "$("$H" info --backing-chain l3.qcow2 | grep -c '^image: ')" = 4 ] && ok "info --backing-chain" || bad "info --backing-chain"
    # Compressed clusters (zlib deflate) of random and compressible data.
    head -c 3M /dev/urandom > rnd.raw
    { cat rnd.raw; yes "compressible text line" | head -c 5M; } > mix.raw
    truncate -s 10M mix.raw
    "$QIMG" convert -c -O qcow2 mix.raw comp.qcow2
    same_as_qemu comp.qcow2
    "$QIMG" convert -c -O qcow2 -o compat=0.10,cluster_size=4k mix.raw comp2.qcow2
    same_as_qemu comp2.qcow2
    # VHD fixed and dynamic, as qemu-img creates and converts them.
    "$QIMG" convert -O vpc -o subformat=fixed mix.raw fixed.vhd
    same_as_qemu fixed.vhd vpc
    "$QIMG" convert -O vpc mix.raw dyn.vhd
    same_as_qemu dyn.vhd vpc
    "$QIMG" create -q -f vpc dyn2.vhd 64M
    run "$QIO" -f vpc -c 'write -P 0x51 1000k 3M' -c 'write -P 0x52 60M 64k' dyn2.vhd
    same_as_qemu dyn2.vhd vpc
    ;;
write)
    for spec in "qcow2 compat=1.1" "qcow2 compat=0.10" "qcow2 cluster_size=4k" "qcow2 cluster_size=512,refcount_bits=8" \
                "vpc subformat=dynamic" "vpc subformat=fixed"; do
        set -- $spec
        fmt=$1 opts=$2 tag=$(echo "$spec" | tr ' =,' '___')
        "$H" create -q -f "$fmt" -o "$opts" "h_$tag.img" 16M || { bad "hvimg create $spec"; continue; }
        "$QIMG" create -q -f "$fmt" -o "$opts" "q_$tag.img" 16M
        if [ "$fmt" = vpc ]; then wl=("${VHD_WORKLOAD[@]}"); else wl=("${WORKLOAD[@]}"); fi
        if ! "$H" io -f "$fmt" "${wl[@]}" "h_$tag.img" >/dev/null 2>err.txt; then bad "hvimg io $spec: $(cat err.txt)"; continue; fi
        run "$QIO" -f "$fmt" "${wl[@]}" "q_$tag.img"
        [ "$fmt" = qcow2 ] && qcheck "h_$tag.img"
        qcompare "h_$tag.img" "q_$tag.img" "$fmt" "$fmt"
    done
    # Past 2 TiB: a 3 TiB image written at its very end and past the 2 TiB mark.
    "$H" create -q -f qcow2 big.qcow2 3T
    "$H" io -c 'write -P 0x71 3298534817792 64k' -c 'write -P 0x72 2199023259648 8k' big.qcow2 >/dev/null || bad "hvimg io big"
    qcheck big.qcow2
    "$QIO" -c 'read -P 0x71 3298534817792 64k' -c 'read -P 0x72 2199023259648 8k' -c 'read -P 0 2199023255552 4k' big.qcow2 | grep -q -i fail \
        && bad "3 TiB image contents" || ok "3 TiB image contents"
    # Writes through a backing chain: hvimg overlay over a qemu-made base.
    "$QIMG" create -q -f qcow2 base.qcow2 16M
    run "$QIO" -c 'write -P 0x77 0 16M' base.qcow2
    cp base.qcow2 qbase.qcow2
    "$H" create -q -f qcow2 -b base.qcow2 -F qcow2 over.qcow2
    "$QIMG" create -q -f qcow2 -b qbase.qcow2 -F qcow2 qover.qcow2
    "$H" io "${WORKLOAD[@]}" over.qcow2 >/dev/null || bad "hvimg io over backing"
    run "$QIO" "${WORKLOAD[@]}" qover.qcow2
    qcheck over.qcow2
    qcompare over.qcow2 qover.qcow2
    qcheck base.qcow2
    # VHD differencing disk over a dynamic parent, contents checked by qemu.
    "$H" create -q -f vpc dparent.vhd 16M
    "$H" io -f vpc -c 'write -P 0x61 0 16M' dparent.vhd >/dev/null
    "$H" create -q -f vpc -b dparent.vhd -F vpc dchild.vhd
    "$H" io -f vpc -c 'write -P 0x62 1000k 100k' -c 'write -P 0x63 5000 1000' dchild.vhd >/dev/null
    "$H" convert -O raw dchild.vhd child.raw
    "$QIMG" create -q -f raw expect.raw 16M
    "$QIMG" convert -f vpc -O raw dparent.vhd expect.raw
    run "$QIO" -f raw -c 'write -P 0x62 1000k 100k' -c 'write -P 0x63 5000 1000' expect.raw
    if cmp -s child.raw expect.raw; then ok "vhd differencing contents"; else bad "vhd differencing contents"; fi
    ;;
convert)
    head -c 2M /dev/urandom > src.raw
    { cat src.raw; head -c 1M /dev/zero; cat src.raw; } > a.raw
    truncate -s 9M a.raw
    for out in "qcow2 compat=1.1" "qcow2 compat=0.10,cluster_size=16k" "vpc subformat=dynamic" "vpc subformat=fixed" "raw preallocation=off"; do
        set -- $out
        tag=$(echo "$out" | tr ' =,' '___')
        "$H" convert -p -f raw -O "$1" -o "$2" a.raw "c_$tag.img" >/dev/null || { bad "hvimg convert $out"; continue; }
        [ "$1" = qcow2 ] && qcheck "c_$tag.img"
        qcompare a.raw "c_$tag.img" raw "$1"
        # and back again through hvimg
        "$H" convert -O raw "c_$tag.img" "back_$tag.raw"
        "$QIMG" compare -q "back_$tag.raw" a.raw && ok "round trip $out" || bad "round trip $out"
    done
    # A qemu compressed image converted by hvimg to an uncompressed one.
    "$QIMG" convert -c -O qcow2 a.raw qc.qcow2
    "$H" convert -O qcow2 qc.qcow2 unc.qcow2 && qcheck unc.qcow2 && qcompare unc.qcow2 a.raw
    ;;
tool)
    "$QIMG" create -q -f qcow2 -o compat=0.10 t.qcow2 64M
    run "$QIO" -c 'write -P 1 0 1M' t.qcow2
    out=$("$H" info t.qcow2)
    grep -q "virtual size: 64 MiB (67108864 bytes)" <<<"$out" && grep -q "compat: 0.10" <<<"$out" && ok "info human" || bad "info human: $out"
    out=$("$H" info --output=json t.qcow2)
    grep -q '"virtual-size": 67108864' <<<"$out" && grep -q '"cluster-size": 65536' <<<"$out" && ok "info json" || bad "info json: $out"
    "$H" check t.qcow2 >/dev/null && ok "check clean qemu image" || bad "check clean qemu image"
    # A leak qemu-img agrees is a leak: raise a free cluster's refcount.
    cp t.qcow2 leak.qcow2
    rb=$(( $(od -An -tu8 --endian=big -j48 -N8 leak.qcow2) ))
    rbo=$(( $(od -An -tu8 --endian=big -j$rb -N8 leak.qcow2) ))
    printf '\x00\x01' | dd of=leak.qcow2 bs=1 seek=$((rbo + 2*100)) conv=notrunc status=none
    truncate -s $((101 * 65536)) leak.qcow2
    "$QIMG" check leak.qcow2 >/dev/null 2>&1; qrc=$?
    "$H" check leak.qcow2 >/dev/null 2>&1; hrc=$?
    [ $qrc -eq 3 ] && [ $hrc -eq 3 ] && ok "leak found by both (rc 3)" || bad "leak rc qemu=$qrc hvimg=$hrc"
    "$H" check -r leaks leak.qcow2 >/dev/null 2>&1 && "$QIMG" check leak.qcow2 >/dev/null && ok "check -r leaks repairs" || bad "check -r leaks"
    "$H" compare t.qcow2 t.qcow2 | grep -q "Images are identical." && ok "compare identical" || bad "compare identical"
    "$QIMG" create -q -f qcow2 u.qcow2 64M
    run "$QIO" -c 'write -P 1 0 1M' -c 'write -P 2 5M 1' u.qcow2
    out=$("$H" compare t.qcow2 u.qcow2); rc=$?
    [ $rc -eq 1 ] && grep -q "Content mismatch at offset 5242880!" <<<"$out" && ok "compare mismatch" || bad "compare mismatch rc=$rc $out"
    hm=$("$H" map --output=json t.qcow2 | tr -d ' \n'); qm=$("$QIMG" map --output=json t.qcow2 | tr -d ' \n')
    [ "$hm" = "$qm" ] && ok "map json equals qemu-img map" || bad "map json: $hm vs $qm"
    "$QIMG" snapshot -c snap1 t.qcow2
    "$H" snapshot -l t.qcow2 | grep -q "snap1" && ok "snapshot -l lists qemu snapshot" || bad "snapshot -l"
    same_as_qemu t.qcow2
    "$H" check t.qcow2 >/dev/null && ok "check image with snapshot" || bad "check image with snapshot"
    # qemu-io "abort" on a lazy-refcounts image: dirty, refcounts too low.
    # Opening it read-write in hvimg repairs it the way QEMU would.
    "$QIMG" create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 16M
    sh -c '"$0" -c "write -P 0x5a 0 1M" -c "write -P 0x5b 4M 64k" -c abort "$1"' "$QIO" lazy.qcow2 >/dev/null 2>&1
    "$QIMG" check lazy.qcow2 >/dev/null 2>&1 && bad "lazy image should need repair" || ok "lazy image is dirty"
    "$H" io -c 'write -P 0x5c 8M 4k' lazy.qcow2 >/dev/null && qcheck lazy.qcow2
    "$QIO" -c 'read -P 0x5a 0 1M' -c 'read -P 0x5b 4M 64k' -c 'read -P 0x5c 8M 4k' lazy.qcow2 | grep -qi fail \
        && bad "lazy image data" || ok "lazy image data kept"
    cp lazy.qcow2 low.qcow2
    # check -r all: raise a refcount that is too low (cluster 5 -> 0).
    rb=$(( $(od -An -tu8 --endian=big -j48 -N8 low.qcow2) ))
    rbo=$(( $(od -An -tu8 --endian=big -j$rb -N8 low.qcow2) ))
    printf '\x00\x00' | dd of=low.qcow2 bs=1 seek=$((rbo + 2*5)) conv=notrunc status=none
    "$H" check low.qcow2 >/dev/null 2>&1; rc=$?
    "$H" check -r all low.qcow2 >/dev/null 2>&1 && [ $rc -eq 2 ] && qcheck low.qcow2 || bad "check -r all (rc before $rc)"
    # Internal snapshots made by hvimg, read back and checked by qemu-img.
    "$H" create -q -f qcow2 sn.qcow2 16M
    "$H" io -c 'write -P 0x10 0 2M' sn.qcow2 >/dev/null
    "$H" snapshot -c one sn.qcow2 && "$H" io -c 'write -P 0x20 1M 2M' sn.qcow2 >/dev/null && "$H" snapshot -c two sn.qcow2
    qcheck sn.qcow2
    "$QIMG" snapshot -l sn.qcow2 | grep -q " two " && ok "qemu-img lists hvimg snapshots" || bad "qemu-img snapshot -l"
    "$QIMG" convert -l one -O raw sn.qcow2 one.raw
    run "$QIO" -f raw -c 'read -P 0x10 0 2M' -c 'read -P 0 2M 1M' one.raw && ! "$QIO" -f raw -c 'read -P 0x10 0 2M' one.raw | grep -q fail \
        && ok "snapshot one holds its data" || bad "snapshot one contents"
    cp sn.qcow2 apply.qcow2
    "$H" snapshot -a one apply.qcow2 && qcheck apply.qcow2
    "$QIO" -c 'read -P 0x10 0 2M' -c 'read -P 0 2M 14M' apply.qcow2 | grep -q -i fail && bad "snapshot -a contents" || ok "snapshot -a contents"
    "$H" snapshot -d one sn.qcow2 && qcheck sn.qcow2
    "$H" snapshot -d two sn.qcow2 && qcheck sn.qcow2
    "$QIO" -c 'read -P 0x10 0 1M' -c 'read -P 0x20 1M 2M' sn.qcow2 | grep -q -i fail && bad "active data after deletes" || ok "active data after deletes"
    # Errors: one line on stderr, non-zero status, image untouched.
    head -c 1M /dev/urandom > junk.bin
    printf 'QFI\xfb\x00\x00\x00\x07' | dd of=junk.bin conv=notrunc status=none
    sum=$(md5sum < junk.bin)
    "$H" info -f qcow2 junk.bin >out.txt 2>err.txt; rc=$?
    [ $rc -ne 0 ] && [ "$(wc -l < err.txt)" -eq 1 ] && [ "$sum" = "$(md5sum < junk.bin)" ] && ok "bad image: one-line error ($(cat err.txt))" || bad "bad image error rc=$rc"
    "$H" create -f qcow2 -o cluster_size=3000 x.qcow2 1M >/dev/null 2>err.txt; rc=$?
    [ $rc -ne 0 ] && [ ! -e x.qcow2 ] && [ "$(wc -l < err.txt)" -eq 1 ] && ok "bad option refused ($(cat err.txt))" || bad "bad option rc=$rc"
    cp u.qcow2 c.qcow2  # v3: the corrupt bit exists from compat 1.1 on
    printf '\x00\x00\x00\x00\x00\x00\x00\x02' | dd of=c.qcow2 bs=1 seek=72 conv=notrunc status=none  # corrupt bit
    "$H" io -c 'write 0 512' c.qcow2 >/dev/null 2>err.txt; rc=$?
    [ $rc -ne 0 ] && grep -q corrupt err.txt && ok "corrupt bit refuses writes" || bad "corrupt bit rc=$rc $(cat err.txt)"
    ;;
*) echo "unknown case $case_name"; exit 2 ;;
esac
echo "$case_name: $checks checks, $fails failed"
[ $checks -gt 0 ] && [ $fails -eq 0 ]
