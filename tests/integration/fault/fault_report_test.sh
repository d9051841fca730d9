#!/usr/bin/env bash
# Boots hv.elf32 in QEMU with `selftest=<name>` (a deliberate fault after the
# boot completes) and checks the fault report a user would read:
#   pagefault       #PF, error 0x0 (not present, read), CR2 = 0xdead0000
#   write-text      #PF, error 0x3 (present, write): the image's code is not writable (W^X)
#   stack-overflow  #DF delivered on its IST stack after the kernel stack ran
#                   into its guard page (CR2 inside the guard page)
# Every report must carry registers, a backtrace of kernel text addresses,
# and end with all CPUs halted.
#   fault_report_test.sh BUILD_DIR NAME
set -euo pipefail
build=$1
name=$2
elf32="$build/hv.elf32"
[[ -f "$elf32" ]] || { echo "fault_report_test: FAIL: $elf32 missing"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hv-fault-$name.XXXXXX")
log="$work/serial.log"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -smp 2 -m 256 -nodefaults -display none \
  -monitor none -no-reboot -serial "file:$log" -kernel "$elf32" -append "selftest=$name" &
pid=$!
for _ in $(seq 600); do
  grep -q "all CPUs halted" "$log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
sleep 0.3

fail() {
  echo "fault_report_test: FAIL $name: $1"
  echo "---- serial log ----"
  tr -d '\r' <"$log"
  exit 1
}
grep -q "hv: 2 CPUs online" "$log" || fail "the boot did not complete"
grep -q "selftest: $name" "$log" || fail "the self-test did not start"
case "$name" in
  pagefault)
    grep -q "hv: FATAL: exception #PF page fault (vector 14, error 0x0) on CPU 0" "$log" || fail "no #PF report"
    grep -q "cr2 00000000dead0000" "$log" || fail "CR2 does not name the faulting address" ;;
  write-text)
    grep -q "hv: FATAL: exception #PF page fault (vector 14, error 0x3) on CPU 0" "$log" || fail "no write-protection #PF report" ;;
  stack-overflow)
    grep -q "hv: FATAL: exception #DF double fault (vector 8, error 0x0) on CPU 0" "$log" || fail "no #DF report"
    cr2=$(grep -o "cr2 [0-9a-f]*" "$log" | head -1 | cut -d' ' -f2)
    # CPU 0's guard page is the first page of its stack slot.
    [[ "$cr2" == fffffe0000000* ]] || fail "CR2 $cr2 is not in CPU 0's stack guard page" ;;
  *) fail "unknown self-test" ;;
esac
grep -q "  rip ffffffff8" "$log" || fail "no register dump"
grep -A1 "backtrace" "$log" | grep -qE "^    ffffffff8[0-9a-f]{7}" || fail "no backtrace"
grep -q "hv: CPU 0 stopped; all CPUs halted" "$log" || fail "the CPUs were not stopped"
echo "fault_report_test: PASS $name"
