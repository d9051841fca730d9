#!/usr/bin/env bash
# Runs one test guest under the hypervisor's test build and checks how it
# ended, as a user reading the serial log would:
#   guest_test.sh BUILD_DIR BACKEND GUEST
# BACKEND: svm (QEMU TCG -cpu qemu64,+svm,+npt), svm-max (QEMU -cpu max),
#          vmx (Bochs corei7_skylake_x: VMX with EPT, unrestricted guest, PLE),
#          svm-bochs (Bochs ryzen: SVM with NPT, NRIP save, flush-by-ASID and a
#          Pause Filter count — the paths QEMU TCG lacks).
# Well-behaved guests must print "PASS <guest>" and exit through the
# debug port with value 0. Misbehaving guests must be stopped with the log
# line naming what they did; after them a well-behaved guest (cpuid_test) runs
# in the same boot, proving the host went on.
set -euo pipefail
build=$(cd "$1" && pwd)
backend=$2
guest=$3
guests="$build/tests/guests"
hv="$build/hv-test.elf32"
for f in "$hv" "$guests/$guest.elf32" "$guests/cpuid_test.elf32"; do
  [[ -f "$f" ]] || { echo "guest_test: FAIL: $f missing"; exit 1; }
done

declare -A expect=(
  [cpuid_test]="exited via debug port: value 0x0"
  [msr_test]="exited via debug port: value 0x0"
  [io_test]="exited via debug port: value 0x0"
  [mmio_test]="exited via debug port: value 0x0"
  [irq_test]="exited via debug port: value 0x0"
  [paging_test]="exited via debug port: value 0x0"
  [nmi_test]="exited via debug port: value 0x0"
  [apic_test]="exited via debug port: value 0x0"
  [smp_test]="exited via debug port: value 0x0"
  [pause_test]="exited via debug port: value 0x0"
  [cr_test]="exited via debug port: value 0x0"
  [fpu_test]="exited via debug port: value 0x0"
  [bad_cr4]="CR4 write with reserved or unoffered bits 0x80000000: #GP"
  [unmapped]="crashed: vCPU 0 read from unmapped guest-physical address 0xc0000000"
  [triple_fault]="crashed: vCPU 0 triple fault"
)
[[ -n "${expect[$guest]:-}" ]] || { echo "guest_test: FAIL: no expectation for $guest"; exit 1; }
misbehaving=0
case "$guest" in bad_cr4|unmapped|triple_fault) misbehaving=1 ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/hv-guest-$guest.XXXXXX")
log="$work/serial.log"
: >"$log"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

modules=("$guests/$guest.elf32")
args=""
[[ $guest == smp_test ]] && args=" vcpus=4"
[[ $guest == fpu_test ]] && args=" vcpus=3"
[[ $misbehaving == 1 ]] && modules+=("$guests/cpuid_test.elf32")
count=${#modules[@]}

case "$backend" in
  svm|svm-max)
    cpu=qemu64,+svm,+npt
    [[ $backend == svm-max ]] && cpu=max
    initrd=$(IFS=,; echo "${modules[*]}")
    initrd="${modules[0]}$args${initrd#"${modules[0]}"}"
    qemu-system-x86_64 -accel tcg -cpu "$cpu" -smp 2 -m 512 -nodefaults -display none -monitor none \
      -no-reboot -serial "file:$log" -kernel "$hv" -append "console=com1,115200" -initrd "$initrd" &
    pid=$!
    timeout=60 ;;
  vmx|svm-bochs)
    model=corei7_skylake_x
    [[ $backend == svm-bochs ]] && model=ryzen
    mkdir -p "$work/iso/boot/grub"
    cp "$build/hv-test.elf" "$work/iso/boot/hv-test.elf"
    {
      echo "serial --unit=0 --speed=115200"; echo "terminal_input serial"; echo "terminal_output serial"
      echo "set timeout=0"; echo "menuentry hv-test {"; echo "  multiboot2 /boot/hv-test.elf console=com1,115200"
      i=0
      for m in "${modules[@]}"; do
        cp "$m" "$work/iso/boot/m$i.elf32"; extra=""; [[ $i == 0 ]] && extra=$args
        echo "  module2 /boot/m$i.elf32 $(basename "$m")$extra"; i=$((i + 1))
      done
      echo "}"
    } >"$work/iso/boot/grub/grub.cfg"
    grub-mkrescue -o "$work/test.iso" "$work/iso" --locales= --fonts= --themes= >/dev/null 2>&1
    cat >"$work/bochsrc" <<EOF2
megs: 256
cpu: model=$model, count=1, reset_on_triple_fault=0, ips=50000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
ata0-master: type=cdrom, path=$work/test.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$log
display_library: rfb, options="timeout=0"
log: $work/bochs.log
panic: action=fatal
error: action=report
EOF2
    printf 'continue\nquit\n' >"$work/bochs.rc"
    (cd "$work" && exec bochs -q -f bochsrc -rc bochs.rc >/dev/null 2>&1) &
    pid=$!
    timeout=240 ;;
  *) echo "guest_test: FAIL: unknown backend $backend"; exit 1 ;;
esac

for _ in $(seq $((timeout * 10))); do
  grep -qE "testguest: all [0-9]+ test guest|hv: FATAL" "$log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done

fail() {
  echo "guest_test: FAIL $backend $guest: $1"
  echo "---- serial log ----"
  tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'
  exit 1
}
! grep -q "hv: FATAL" "$log" || fail "the hypervisor stopped"
grep -q "testguest: all $count test guest(s) done" "$log" || fail "the guests did not all run"
grep -qF -- "${expect[$guest]}" "$log" || fail "missing: ${expect[$guest]}"
if [[ $misbehaving == 0 ]]; then
  grep -q "dom1 console: PASS $guest" "$log" || fail "the guest did not report PASS"
else
  grep -q "dom2 console: PASS cpuid_test" "$log" || fail "the guest after the misbehaving one did not pass"
  grep -q "dom1: .*exited via debug port" "$log" && fail "the misbehaving guest was not stopped"
fi
if [[ $guest == pause_test ]]; then
  pauses=$(tr -d '\r' <"$log" | sed -n 's/^dom1 vcpu0:.* pause \([0-9]*\).*/\1/p')
  pauses=${pauses:-0}
  echo "guest_test: $pauses PAUSE exits for 300000 PAUSEs"
  case "$backend" in
    svm|svm-max) [[ $pauses == 0 ]] || fail "PAUSE intercepted without a Pause Filter ($pauses exits)" ;;
    *) (( pauses > 0 && pauses < 30000 )) || fail "expected a filtered number of PAUSE exits, got $pauses" ;;
  esac
fi
grep "dom1 vcpu0:" "$log" | tr -d '\r' || true
echo "guest_test: PASS $backend $guest"
