#!/usr/bin/env bash
# Debian's kernel under hv on Intel VMX: tools/hvrun --hv-vmx boots hv in
# Bochs (VMX with EPT) and the PVH vmlinux with its initramfs and 2 vCPUs as
# its guest. Checks what the guest reports: its kernel, 2 CPUs, the virtio
# console, its clock, the init marker, and the poweroff (status 0, as QEMU
# gives it). Bochs runs ~60 M instructions/s, so the kernel gets the
# options that make it quick there (quiet, rodata=off, cryptomgr.notests;
# TESTING.md) and the run takes minutes.
#   vmx_boot.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=()
check() { if eval "$2"; then echo "vmx_boot: ok: $1"; else echo "vmx_boot: FAILED: $1"; fail+=("$1"); fi; }

"$root/tools/mkguest" "$build/guest" >/dev/null || { echo "vmx_boot: FAIL: tools/mkguest"; exit 1; }
start=$(date +%s)
timeout 1500 "$root/tools/hvrun" --hv-vmx --hv-verbose --hv-timeout 1400 -kernel "$build/guest/vmlinux" \
  -initrd "$build/guest/initrd.img" -smp 2 -m 256 -append "console=ttyS0 quiet rodata=off cryptomgr.notests" \
  -serial stdio -display none -no-reboot > "$work/out" 2> "$work/err"
status=$?
echo "vmx_boot: $(( $(date +%s) - start )) s in all"
# The guest's tty writes CR LF, as on QEMU's serial line: compare lines without the CR.
tr -d '\r' < "$work/out" > "$work/out.lf" && mv "$work/out.lf" "$work/out"
grep "^guest:" "$work/out"
grep "^hvrun:" "$work/err"
check "hv runs on VMX" 'grep -q "dom0: hv .* on vmx" "$work/err"'
check "the guest's kernel is Debian's" 'grep -q "^guest: kernel 6\.1\..*-amd64" "$work/out"'
check "2 CPUs" 'grep -q "^guest: cpus 2$" "$work/out"'
check "the virtio console" 'grep -q "^guest: hvc0 present$" "$work/out"'
check "its clock is not 1970" 'grep -Eq "^guest: date 20[2-9][0-9]-" "$work/out"'
check "the init marker" 'grep -q "^guest: init done$" "$work/out"'
check "poweroff gives status 0" '[ "$status" = 0 ] && grep -q "guest powered off, exit status 0" "$work/err"'
if [ ${#fail[@]} -ne 0 ]; then
  tail -40 "$work/out"; tail -20 "$work/err"
  echo "vmx_boot: FAIL (${#fail[@]} checks)"
  exit 1
fi
echo "vmx_boot: PASS"
