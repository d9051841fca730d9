#!/usr/bin/env bash
# Directed yield: 4 vCPUs on 2 physical CPUs contending on a spin lock
# (spinlock_bench guest), every PAUSE intercepted (QEMU TCG has no Pause
# Filter), under QEMU -icount so the guest TSC counts instructions. Runs the
# guest with directed yield on and off in the same invocation and prints both
# completion times and the ratio.
#   yield_bench.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
hv="$build/hv-test.elf32"
guest="$build/tests/guests/spinlock_bench.elf32"
for f in "$hv" "$guest"; do [[ -f "$f" ]] || { echo "yield_bench: FAIL: $f missing"; exit 1; }; done
work=$(mktemp -d "${TMPDIR:-/tmp}/hv-yield.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() {  # run LABEL EXTRA-ARGS -> prints ticks
  local log="$work/$1.log"
  qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -icount shift=0,sleep=off -rtc base=2020-01-01,clock=vm \
    -smp 2 -m 256 -nodefaults -display none -monitor none -no-reboot -serial "file:$log" \
    -kernel "$hv" -append "console=com1,115200" -initrd "$guest vcpus=4 pause_exits=1$2" &
  local pid=$!
  for _ in $(seq 3000); do
    grep -q "testguest: all 1 test guest" "$log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -q "console: PASS spinlock_bench" "$log" || { echo "yield_bench: FAIL ($1)"; tr -d '\r' <"$log" >&2; exit 1; }
  tr -d '\r' <"$log" | sed -n 's/.*console: bench: spinlock_ticks //p'
}
# Lock-holder preemption depends on where slices end, so one work size alone
# says little: three sizes of critical section, and the total.
echo "spin-lock contention, 4 vCPUs on 2 CPUs, completion in guest instructions (QEMU -icount):"
printf '  %-10s %14s %14s %8s\n' work "yield on" "yield off" speedup
total_on=0; total_off=0
for w in 1000 3000 9000; do
  on=$(run "on-$w" " work=$w")
  off=$(run "off-$w" " work=$w directed_yield=off")
  total_on=$((total_on + on)); total_off=$((total_off + off))
  printf '  %-10s %14s %14s %8s\n' "$w" "$on" "$off" "$(awk -v a="$off" -v b="$on" 'BEGIN{printf "%.2fx", a/b}')"
done
printf '  %-10s %14s %14s %8s\n' total "$total_on" "$total_off" "$(awk -v a="$total_off" -v b="$total_on" 'BEGIN{printf "%.2fx", a/b}')"
echo "yield_bench: done"
