#!/usr/bin/env bash
# Device-model round trip under QEMU TCG with -icount shift=0 (one TSC tick
# per emulated instruction): a guest built by Dom0 times port accesses that
# hv forwards to Dom0's device models (the vCPU waits, Dom0's device-model
# thread answers) next to exits hv answers itself, in the same run. Prints
# instructions per exit and the ratios to the in-hv port exit and to Linux
# 6.1 KVM with its userspace device model (measured the same way, recorded
# in docs/performance.md): KVM 5,065 for the userspace round trip, 1,597
# and 3,844 for a port and an MMIO doorbell through ioeventfd.
#   dm_bench.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(HV_QEMU_EXTRA="-icount shift=0,sleep=off -rtc base=2020-01-01,clock=vm" HV_SMP=1 HV_LOG_LINES=400 \
      python3 "$here/../integration/dom0/serial_session.py" "$build" svm "$here/dm_bench.session" 2>&1) || {
  echo "$out" | tail -40
  echo "dm_bench: FAIL: the session did not complete"
  exit 1
}
figures=$(echo "$out" | sed -n 's/^bench: \([a-z_]*\) \([0-9]*\)$/\1 \2/p')
get() { echo "$figures" | awk -v k="$1" '$1 == k { print $2; exit }'; }
hv_io=$(get io_hv)
[[ -n "$hv_io" && -n "$(get io_dm_out)" ]] || { echo "$out" | tail -40; echo "dm_bench: FAIL: no figures"; exit 1; }
kvm_dm=5065    # KVM 6.1, port I/O to the userspace device model and back (TESTING.md)
kvm_bell=1597  # KVM 6.1, a port doorbell through the ioeventfd fast path
kvm_mmio_bell=3844  # KVM 6.1, an MMIO doorbell through ioeventfd
# KVM 6.1, port I/O answered in the kernel: the nearest to a buffered write
# (KVM's coalesced PIO ring) or a latched read, which never leave hv either.
kvm_hv_io=1570
echo "device-model round trip, instructions per exit (QEMU TCG SVM, 1 CPU, -icount shift=0):"
printf '  %-16s %8s %10s %10s\n' exit hv "vs io_hv" "vs KVM"
echo "$figures" | while read -r name n; do
  [[ $name == baseline_nop ]] && continue
  r1=$(awk -v a="$n" -v b="$hv_io" 'BEGIN{printf "%.2fx", a/b}')
  r2=-
  [[ $name == io_dm_* ]] && r2=$(awk -v a="$n" -v b="$kvm_dm" 'BEGIN{printf "%.2fx", a/b}')
  [[ $name == io_buffered_out || $name == io_latched_in ]] && r2=$(awk -v a="$n" -v b="$kvm_hv_io" 'BEGIN{printf "%.2fx", a/b}')
  [[ $name == doorbell_port ]] && r2=$(awk -v a="$n" -v b="$kvm_bell" 'BEGIN{printf "%.2fx", a/b}')
  [[ $name == doorbell_mmio ]] && r2=$(awk -v a="$n" -v b="$kvm_mmio_bell" 'BEGIN{printf "%.2fx", a/b}')
  printf '  %-16s %8s %10s %10s\n' "$name" "$n" "$r1" "$r2"
done
echo "dm_bench: done"
