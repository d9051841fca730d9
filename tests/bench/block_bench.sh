#!/bin/bash
# Block backend benchmark: hvimg bench (vmm/block) against qemu-img bench
# (QEMU's own drivers) on the same image file, same run, same access pattern.
#   block_bench.sh <hvimg> <qemu-img> <qemu-io> <workdir> [MiB]
# Patterns (both tools take the same options; page cache on for both). The
# vmm/block backends complete synchronously (queue depth 1), so qemu-img runs
# at depth 1 (same work) and at its default depth 64 (its best case):
#   4K random read/write  -s 4k -S 4k*7919: a prime stride that visits every
#                         4 KiB slot of the image in scrambled order
#   sequential read/write -s 1M
# Writes run on fresh identical copies; random writes overwrite allocated
# data (steady state), sequential writes allocate a fresh image.
# Prints seconds and ratios = qemu time / hvimg time (> 1: hvimg is faster).
set -eu
H=$1 QIMG=$2 QIO=$3 W=$4 MIB=${5:-256}
abs() { case $1 in */*) realpath "$1" ;; *) command -v "$1" ;; esac; }
H=$(abs "$H") QIMG=$(abs "$QIMG") QIO=$(abs "$QIO")
rm -rf "$W" && mkdir -p "$W" && cd "$W"
RAND_STEP=$((4096 * 7919))
N4K=${N4K:-40000}
NSEQ=$((MIB - 2))  # one pass, clear of the (CHS-rounded) end

secs() { sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p'; }

# prepare <fmt> <name>: a fully written image of MIB MiB
prepare() {
    local fmt=$1 name=$2 o=()
    [ "$fmt" = vpc ] && o=(-o subformat=dynamic)
    "$QIMG" create -q -f "$fmt" "${o[@]}" "$name" "${MIB}M"
    "$QIO" -f "$fmt" -c "write -P 0x5a 0 ${MIB}M" "$name" >/dev/null
}

row() { # label fmt hvimg-args... -- qemu uses the same args
    local label=$1 fmt=$2 file_h=$3 file_q=$4; shift 4
    local th tq tq64 keep=("$@")
    th=$("$H" bench -q -f "$fmt" "$@" "$file_h" | secs)
    tq=$("$QIMG" bench -f "$fmt" -d 1 -t writeback "$@" "$file_q" | secs)
    if [ -n "${COPY_FOR_QD64:-}" ]; then cp "$COPY_FOR_QD64" "$file_q"; fi
    tq64=$("$QIMG" bench -f "$fmt" -d 64 -t writeback "${keep[@]}" "$file_q" | secs)
    printf "%-6s %-21s %8s s %8s s %6s %8s s %6s\n" "$fmt" "$label" "$th" "$tq" "$(echo "scale=2; $tq / $th" | bc)" \
        "$tq64" "$(echo "scale=2; $tq64 / $th" | bc)"
}

printf "%-6s %-21s %10s %10s %6s %10s %6s\n" format pattern hvimg "qemu qd1" ratio "qemu qd64" ratio
for fmt in qcow2 vpc; do
    prepare "$fmt" "r.$fmt"
    row "4K random read" "$fmt" "r.$fmt" "r.$fmt" -c "$N4K" -s 4k -S "$RAND_STEP"
    cp "r.$fmt" "wh.$fmt"; cp "r.$fmt" "wq.$fmt"
    COPY_FOR_QD64="r.$fmt" row "4K random write" "$fmt" "wh.$fmt" "wq.$fmt" -w -c "$N4K" -s 4k -S "$RAND_STEP"
    row "sequential read 1M" "$fmt" "r.$fmt" "r.$fmt" -c "$NSEQ" -s 1M
    o=(); [ "$fmt" = vpc ] && o=(-o subformat=dynamic)
    "$QIMG" create -q -f "$fmt" "${o[@]}" "sh.$fmt" "${MIB}M"
    cp "sh.$fmt" "sq.$fmt"; cp "sh.$fmt" "fresh.$fmt"
    COPY_FOR_QD64="fresh.$fmt" row "sequential write 1M" "$fmt" "sh.$fmt" "sq.$fmt" -w -c "$NSEQ" -s 1M
    rm -f "wh.$fmt" "wq.$fmt" "sh.$fmt" "sq.$fmt" "fresh.$fmt" "r.$fmt"
done
echo "IOPS = requests / seconds; MB/s = requests * size / seconds. hvimg built with: $(strings "$H" | grep -q __asan_init && echo 'ASan/UBSan (slower; use -DHV_SANITIZE=OFF for figures)' || echo 'no sanitizers')"
