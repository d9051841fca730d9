#!/usr/bin/env bash
# Exit-path length under QEMU TCG with -icount shift=0 (one TSC tick per
# emulated instruction): the exit_bench guest times each exiting instruction
# under the hypervisor's test build. Prints `<name> <instructions>` per exit
# kind, then the ratio to the figures recorded for Linux 6.1 KVM measured the
# same way (see docs/performance.md; a KVM L1 cannot be booted in this run).
#   exit_bench.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
hv="$build/hv-test.elf32"
guest="$build/tests/guests/exit_bench.elf32"
for f in "$hv" "$guest"; do [[ -f "$f" ]] || { echo "exit_bench: FAIL: $f missing"; exit 1; }; done
work=$(mktemp -d "${TMPDIR:-/tmp}/hv-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/serial.log"
qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -icount shift=0,sleep=off \
  -rtc base=2020-01-01,clock=vm -smp 1 -m 256 -nodefaults -display none -monitor none -no-reboot \
  -serial "file:$log" -kernel "$hv" -append "console=com1,115200" -initrd "$guest pause_exits=1" &
pid=$!
for _ in $(seq 3000); do
  grep -q "testguest: all 1 test guest" "$log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
grep -q "bench: baseline_nop" "$log" || { echo "exit_bench: FAIL: no figures"; tr -d '\r' <"$log"; exit 1; }

# Linux 6.1 KVM as L1 under the same QEMU (recorded, TESTING.md).
declare -A kvm=([cpuid]=2956 [io_hv]=1570 [x2apic_self_ipi_eoi]=9498 [tsc_deadline_round]=8322)
echo "exit-path length, instructions per exit (QEMU TCG SVM, no NRIP, -icount shift=0):"
printf '  %-18s %8s %10s %8s\n' exit hv "KVM 6.1" ratio
tr -d '\r' <"$log" | sed -n 's/.*console: bench: //p' | while read -r name n; do
  ref=${kvm[$name]:-}
  if [[ -n "$ref" ]]; then
    printf '  %-18s %8s %10s %8s\n' "$name" "$n" "$ref" "$(awk -v a="$n" -v b="$ref" 'BEGIN{printf "%.2fx", a/b}')"
  else
    printf '  %-18s %8s %10s %8s\n' "$name" "$n" "-" "-"
  fi
done
echo "exit_bench: done"
