#!/usr/bin/env bash
# The PC's legacy timer path on hv's Multiboot platform: tests/guests'
# pit_test (8259A remapped, PIT counter 0 at 100 Hz, IRQ 0 counted over spans
# timed by counter 2 through port 0x61) run by qemu-system-x86_64 -kernel
# directly and by tools/hvrun (hv nested in QEMU, the PIC and PIT being
# Dom0's models) gives the same serial bytes and the same exit status (1:
# every check passed). With --hv-vmx, hv runs in Bochs (Intel VMX) instead.
#   pit_test.sh BUILD_DIR [--hv-vmx]
set -uo pipefail
build=$1
backend=(${2:+"$2"})
root=$(cd "$(dirname "$0")/../../.." && pwd)
hvrun=$root/tools/hvrun
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=()
check() { if eval "$2"; then echo "pit_test: ok: $1"; else echo "pit_test: FAILED: $1"; fail+=("$1"); fi; }

kernel=$build/tests/guests/pit_test.elf32
args=(-nodefaults -display none -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04
      -m 64 -kernel "$kernel")
timeout 120 qemu-system-x86_64 "${args[@]}" > "$work/qemu.out" 2>/dev/null
qemu_status=$?
timeout 300 "$hvrun" "${backend[@]}" "${args[@]}" > "$work/hvrun.out" 2> "$work/hvrun.err"
hvrun_status=$?
echo "--- QEMU ($qemu_status)"; cat "$work/qemu.out"
echo "--- hvrun ($hvrun_status)"; cat "$work/hvrun.out"; cat "$work/hvrun.err"
check "QEMU: every check passed (status 1)" '[ "$qemu_status" = 1 ] && grep -q "^PASS pit_test" "$work/qemu.out"'
check "hvrun gives the same exit status" '[ "$hvrun_status" = "$qemu_status" ]'
check "the same serial bytes" 'cmp -s "$work/qemu.out" "$work/hvrun.out"'

if [ ${#fail[@]} -eq 0 ]; then echo "pit_test: PASS"; else echo "pit_test: FAIL: ${fail[*]}"; fi
