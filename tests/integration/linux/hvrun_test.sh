#!/usr/bin/env bash
# tools/hvrun against QEMU itself: the same -kernel command line run by
# qemu-system-x86_64 directly and by hvrun (the kernel a guest of hv nested
# in QEMU) gives the same serial bytes and the same exit status.
#   1. exit_status (a Multiboot test kernel) with -append and two -initrd
#      modules (one with arguments, one holding a literal ',,' comma): it
#      prints its command line and modules and exits with status=21, which
#      QEMU reports as 43.
#   2. Debian's kernel (PVH vmlinux) with its initramfs, -smp 2 and -m 3400:
#      boots to its init marker, sees 2 CPUs and all 3400 MiB (3 GiB below
#      the PCI hole, the rest from 4 GiB in its e820 map; its virtio console
#      works, wherever Linux put the rings), powers off: status 0.
# Bad inputs tried: no -kernel (usage error 2), a kernel that is not one
# (status 1 with the builder's reason), a missing -initrd file.
#   hvrun_test.sh BUILD_DIR
set -uo pipefail
build=$1
root=$(cd "$(dirname "$0")/../../.." && pwd)
hvrun=$root/tools/hvrun
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=()
check() { if eval "$2"; then echo "hvrun_test: ok: $1"; else echo "hvrun_test: FAILED: $1"; fail+=("$1"); fi; }

kernel=$build/tests/guests/exit_status.elf32
printf 'hello module one\n' > "$work/m1.txt"
printf 'second,comma\n' > "$work/m2.txt"
args=(-nodefaults -display none -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04
      -m 64 -kernel "$kernel" -append "status=21 hello" -initrd "$work/m1.txt a b,$work/m2.txt")
timeout 120 qemu-system-x86_64 "${args[@]}" > "$work/qemu.out" 2>/dev/null
qemu_status=$?
timeout 300 "$hvrun" "${args[@]}" > "$work/hvrun.out" 2> "$work/hvrun.err"
hvrun_status=$?
echo "--- QEMU ($qemu_status)"; cat "$work/qemu.out"
echo "--- hvrun ($hvrun_status)"; cat "$work/hvrun.out"; cat "$work/hvrun.err"
check "QEMU gives 43 for status 21" '[ "$qemu_status" = 43 ]'
check "hvrun gives the same exit status" '[ "$hvrun_status" = "$qemu_status" ]'
check "the same serial bytes" 'cmp -s "$work/qemu.out" "$work/hvrun.out"'
check "modules and their command lines arrived" 'grep -q "module 1 .*second,comma" "$work/hvrun.out"'

timeout 300 "$hvrun" -kernel "$build/guest/vmlinux" -initrd "$build/guest/initrd.img" -smp 2 -m 3400 \
  -append "console=ttyS0 cryptomgr.notests" -serial stdio -display none -no-reboot > "$work/linux.out" 2>&1
linux_status=$?
grep "^guest:" "$work/linux.out"
check "Linux through hvrun: 2 CPUs" 'grep -q "^guest: cpus 2" "$work/linux.out"'
check "Linux through hvrun: init marker" 'grep -q "^guest: init done" "$work/linux.out"'
check "Linux through hvrun: RAM from 4 GiB in its e820 map" \
  'grep -q "BIOS-e820: \[mem 0x0000000100000000-0x00000001147fffff\] usable" "$work/linux.out"'
kb=$(sed -n 's/^guest: mem_total_kb //p' "$work/linux.out" | tr -dc 0-9)
check "Linux through hvrun: MemTotal over 3 GiB ($kb KiB)" '[ "${kb:-0}" -gt 3200000 ]'
check "Linux through hvrun: its virtio console" 'grep -q "^guest: hvc0 present" "$work/linux.out"'
check "Linux through hvrun: poweroff gives status 0" '[ "$linux_status" = 0 ]'

"$hvrun" -m 64 > "$work/bad1" 2>&1; s1=$?
check "no -kernel: usage error 2" '[ "$s1" = 2 ] && grep -q "no -kernel" "$work/bad1"'
timeout 120 "$hvrun" -kernel "$work/m1.txt" > "$work/bad2" 2>&1; s2=$?
cat "$work/bad2"
check "not a kernel: status 1 with the reason" '[ "$s2" = 1 ] && grep -q "not a kernel hv can boot" "$work/bad2"'
"$hvrun" -kernel "$kernel" -initrd "$work/nothere" > "$work/bad3" 2>&1; s3=$?
check "missing module file: status 1" '[ "$s3" = 1 ] && grep -q nothere "$work/bad3"'

if [ ${#fail[@]} -eq 0 ]; then echo "hvrun_test: PASS"; else echo "hvrun_test: FAIL: ${fail[*]}"; fi
