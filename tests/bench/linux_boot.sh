#!/usr/bin/env bash
# Boot overhead: Debian's kernel and initramfs booted by QEMU directly and
# under hv in QEMU (tools/hvrun), in the same run, timed from start to the
# guest's init marker ("guest: init done"); printed with the ratio and the
# guest's VM exits by reason. Each kernel form (PVH vmlinux, bzImage) is
# booted ROUNDS times alternately; the median is reported.
#   linux_boot.sh BUILD_DIR [ROUNDS]
set -uo pipefail
build=$1
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
guest=$build/guest
base_append="console=ttyS0 cryptomgr.notests"

# Seconds from start until the marker appears on stdout (the run is then
# stopped), or "fail".
time_to_marker() {
  local out=$work/run.out start now
  start=$(date +%s.%N)
  "$@" > "$out" 2> "$work/run.err" &
  local pid=$!
  for _ in $(seq 1 3000); do
    if grep -q "^guest: init done" "$out" 2>/dev/null; then
      now=$(date +%s.%N)
      wait "$pid" 2>/dev/null
      echo "$now - $start" | bc -l
      return
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  echo fail
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "fail")}'; }

# The third row is the same PVH boot with `quiet`: without the console's
# ~70,000 port exits (one per byte), what the rest of the boot costs.
for variant in vmlinux vmlinuz vmlinux+quiet; do
  kernel=${variant%+quiet}
  append=$base_append
  [[ $variant == *+quiet ]] && append="$base_append quiet"
  direct=() hv=() setup=()
  for r in $(seq 1 "$rounds"); do
    direct+=("$(time_to_marker timeout 300 qemu-system-x86_64 -accel tcg -nodefaults -display none -no-reboot \
      -serial stdio -smp 2 -m 256 -kernel "$guest/$kernel" -initrd "$guest/initrd.img" -append "$append")")
    hv+=("$(time_to_marker "$root/tools/hvrun" --hv-verbose -serial stdio -smp 2 -m 256 \
      -kernel "$guest/$kernel" -initrd "$guest/initrd.img" -append "$append")")
    exits=$(grep -o "hvrun: [0-9]* exits:.*" "$work/run.err" | tail -1)
    setup+=("$(sed -n 's/^hvrun: guest started \([0-9.]*\) s after.*/\1/p' "$work/run.err" | tail -1)")
  done
  d=$(printf '%s\n' "${direct[@]}" | median)
  h=$(printf '%s\n' "${hv[@]}" | median)
  if [ "$d" = fail ] || [ "$h" = fail ]; then echo "linux_boot: FAIL: $variant did not reach its init marker"; exit 1; fi
  printf 'linux_boot: %-13s QEMU direct %6.2f s   under hv %6.2f s   ratio %.2fx   (runs: direct %s; hv %s)\n' \
    "$variant" "$d" "$h" "$(echo "$h / $d" | bc -l)" "${direct[*]}" "${hv[*]}"
  s=$(printf '%s\n' "${setup[@]}" | median)
  if [ "$s" != fail ]; then
    # The guest's own part: from the domain's start to the marker.
    printf 'linux_boot: %-13s of which hv, Dom0 and the domain build %.2f s; the guest itself %.2f s (%.2fx of QEMU direct)\n' \
      "$variant" "$s" "$(echo "$h - $s" | bc -l)" "$(echo "($h - $s) / $d" | bc -l)"
  fi
  echo "linux_boot: $variant ${exits#hvrun: }"
done
echo "linux_boot: done"
