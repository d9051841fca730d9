#!/usr/bin/env bash
# Boot the hypervisor on one boot path in an emulator and check its serial log.
#
#   boot_test.sh [--build DIR] [--timeout SECONDS] PATH SMP [MACHINE]
#
# PATH is one of
#   kernel        QEMU -kernel build/hv.elf32 (Multiboot1)
#   cdrom         build/hv.iso as CD-ROM, SeaBIOS + GRUB (Multiboot2)
#   cdrom-mb1     like cdrom, but GRUB's second menu entry (`multiboot`,
#                 Multiboot1): an ISO made on the fly with `set default=1`
#   usb           build/hv.iso as USB stick on xHCI, SeaBIOS + GRUB (Multiboot2)
#   uefi          build/hv.iso as CD-ROM, OVMF + GRUB EFI (Multiboot2)
#   pxe           SeaBIOS + iPXE ROM of an e1000, TFTP from QEMU's user network,
#                 tools/boot/boot.ipxe loading hv.elf32 (Multiboot1)
#   grub-pxe      SeaBIOS + iPXE chaining GRUB's network image (grub-mknetdir),
#                 tools/boot/grub.cfg over TFTP (Multiboot2)
#   grub-pxe-efi  OVMF network boot of GRUB EFI's network image (Multiboot2)
#   bochs         Bochs, CPU corei7_skylake_x (VMX), build/hv.iso as CD-ROM
# SMP is the number of CPUs to give the machine; MACHINE is a QEMU machine
# type (pc, q35; default pc; ignored by bochs).
#
# The test passes when the log holds the final boot line
# `hv: N CPUs online, M MiB free` with N == SMP and 0 < M <= RAM, the boot
# line naming the expected protocol (`via Multiboot1`/`via Multiboot2`, and
# `(UEFI)` on the UEFI paths), and no line with `hv: FATAL`. The emulator is stopped (by its PID) one second
# after the final line, on a FATAL line, or on timeout; the log is printed on
# failure. Set HV_BOOT_KEEP=1 to keep the temporary directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
build="$root/build"
timeout=""

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "boot_test: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[[ $# -ge 2 && $# -le 3 ]] || usage
path=$1
smp=$2
machine=${3:-pc}
mem=512
[[ "$smp" =~ ^[1-9][0-9]*$ ]] || { echo "boot_test: SMP must be a positive number" >&2; exit 2; }

case "$path" in
  kernel)       default_timeout=60;  mb=1 ;;
  cdrom|usb)    default_timeout=90;  mb=2 ;;
  cdrom-mb1)    default_timeout=90;  mb=1 ;;
  uefi)         default_timeout=120; mb=2 ;;
  pxe)          default_timeout=120; mb=1 ;;
  grub-pxe)     default_timeout=120; mb=2 ;;
  grub-pxe-efi) default_timeout=180; mb=2 ;;
  bochs)        default_timeout=240; mb=2 ;;
  *) echo "boot_test: unknown boot path '$path'" >&2; usage ;;
esac
timeout=${timeout:-$default_timeout}
[[ -d "$build" ]] || { echo "boot_test: build directory $build does not exist" >&2; exit 1; }
build=$(cd "$build" && pwd)   # the emulator runs in the temporary directory

elf="$build/hv.elf"
elf32="$build/hv.elf32"
iso="$build/hv.iso"
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

need_file() {
  if [[ ! -f "$1" ]]; then
    echo "boot_test: $1 is missing ($2)" >&2
    exit 1
  fi
}
need_cmd() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "boot_test: $1 not found: run tools/install-deps ($2)" >&2
    exit 1
  fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/hv-boot-$path.XXXXXX")
log="$work/serial.log"
errlog="$work/emulator.log"
: >"$log"
emu_pid=""

stop_emulator() {
  [[ -n "$emu_pid" ]] || return 0
  if kill -0 "$emu_pid" 2>/dev/null; then
    kill -TERM "$emu_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$emu_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$emu_pid" 2>/dev/null || true
  fi
  wait "$emu_pid" 2>/dev/null || true
  emu_pid=""
}
cleanup() {
  stop_emulator
  if [[ "${HV_BOOT_KEEP:-0}" == 1 ]]; then
    echo "boot_test: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# QEMU option values are comma-separated: a comma in a path must be doubled.
q() { printf '%s' "${1//,/,,}"; }

qemu=(qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt
      -machine "$machine,graphics=off" -smp "$smp" -m "$mem"
      -nodefaults -display none -monitor none -no-reboot
      -serial "file:$(q "$log")")
ovmf=(-drive "if=pflash,format=raw,readonly=on,file=$(q "$ovmf_code")"
      -drive "if=pflash,format=raw,file=$(q "$work/OVMF_VARS.fd")")
cdrom=(-drive "if=none,id=cd,format=raw,media=cdrom,readonly=on,file=$(q "$iso")"
       -device "ide-cd,drive=cd,bootindex=0")

case "$path" in
  kernel)
    need_file "$elf32" "build it: cmake --build --preset default"
    cmd=("${qemu[@]}" -kernel "$elf32" -append "console=com1,115200 loglevel=info") ;;
  cdrom)
    need_file "$iso" "build it: cmake --build --preset default; needs grub-mkrescue"
    cmd=("${qemu[@]}" "${cdrom[@]}") ;;
  cdrom-mb1)
    need_file "$elf" "build it: cmake --build --preset default"
    need_cmd grub-mkrescue "Debian package grub-common"
    mkdir -p "$work/iso/boot/grub"
    cp "$elf" "$work/iso/boot/hv.elf"
    sed 's/^set default=0$/set default=1/' "$root/tools/boot/grub.cfg" >"$work/iso/boot/grub/grub.cfg"
    grep -q '^set default=1$' "$work/iso/boot/grub/grub.cfg" \
      || { echo "boot_test: no 'set default=0' line in tools/boot/grub.cfg" >&2; exit 1; }
    grub-mkrescue --output="$work/mb1.iso" --locales= --fonts= --themes= "$work/iso" \
      >"$work/grub-mkrescue.log" 2>&1 || { cat "$work/grub-mkrescue.log"; exit 1; }
    cmd=("${qemu[@]}" -drive "if=none,id=cd,format=raw,media=cdrom,readonly=on,file=$(q "$work/mb1.iso")"
         -device "ide-cd,drive=cd,bootindex=0") ;;
  usb)
    need_file "$iso" "build it: cmake --build --preset default; needs grub-mkrescue"
    cmd=("${qemu[@]}" -device qemu-xhci,id=xhci
         -drive "if=none,id=stick,format=raw,readonly=on,file=$(q "$iso")"
         -device "usb-storage,bus=xhci.0,drive=stick,bootindex=0") ;;
  uefi)
    need_file "$iso" "build it: cmake --build --preset default; needs grub-mkrescue"
    need_file "$ovmf_code" "Debian package ovmf"
    cp "$ovmf_vars" "$work/OVMF_VARS.fd"
    cmd=("${qemu[@]}" "${ovmf[@]}" "${cdrom[@]}") ;;
  pxe)
    need_file "$elf32" "build it: cmake --build --preset default"
    mkdir "$work/tftp"
    cp "$elf32" "$work/tftp/hv.elf32"
    cp "$root/tools/boot/boot.ipxe" "$work/tftp/boot.ipxe"
    cmd=("${qemu[@]}"
         -netdev "user,id=n0,tftp=$(q "$work/tftp"),bootfile=boot.ipxe"
         -device "e1000,netdev=n0,bootindex=0") ;;
  grub-pxe|grub-pxe-efi)
    need_file "$elf" "build it: cmake --build --preset default"
    need_cmd grub-mknetdir "Debian package grub-common"
    if [[ "$path" == grub-pxe ]]; then
      platform=i386-pc; bootfile=grub/i386-pc/core.0
    else
      platform=x86_64-efi; bootfile=grub/x86_64-efi/core.efi
      need_file "$ovmf_code" "Debian package ovmf"
      cp "$ovmf_vars" "$work/OVMF_VARS.fd"
    fi
    need_file "/usr/lib/grub/$platform/modinfo.sh" "GRUB for $platform: run tools/install-deps"
    mkdir -p "$work/tftp/boot"
    grub-mknetdir --net-directory="$work/tftp" --subdir=grub \
      --directory="/usr/lib/grub/$platform" --locales= --fonts= --themes= \
      >"$work/grub-mknetdir.log" 2>&1 || { cat "$work/grub-mknetdir.log"; exit 1; }
    cp "$root/tools/boot/grub.cfg" "$work/tftp/grub/grub.cfg"
    cp "$elf" "$work/tftp/boot/hv.elf"
    cmd=("${qemu[@]}")
    [[ "$path" == grub-pxe-efi ]] && cmd+=("${ovmf[@]}")
    cmd+=(-netdev "user,id=n0,tftp=$(q "$work/tftp"),bootfile=$bootfile"
          -device "e1000,netdev=n0,bootindex=0") ;;
  bochs)
    need_file "$iso" "build it: cmake --build --preset default; needs grub-mkrescue"
    need_cmd bochs "Debian package bochs"
    printf 'continue\nquit\n' >"$work/bochs.rc"
    # Bochs resolves relative paths from its working directory: all absolute.
    cat >"$work/bochsrc" <<EOF
megs: $mem
cpu: model=corei7_skylake_x, count=$smp, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path="$iso", status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev="$log"
display_library: rfb, options="timeout=0"
panic: action=fatal
log: "$work/bochs.log"
EOF
    cmd=(bochs -q -f "$work/bochsrc" -rc "$work/bochs.rc") ;;
esac

need_cmd "${cmd[0]}" "the emulator for the $path path"

# The serial log without escape sequences (GRUB clears the screen), carriage
# returns and other control characters.
clean_log() {
  sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[()][0-9A-Za-z]//g' \
      -e 's/\x1b[=>78DEHMc]//g' "$log" | tr -d '\r\000-\010\013\014\016-\037\177'
}
final_re='hv: ([0-9]+) CPUs online, ([0-9]+) MiB free'

echo "boot_test: $path, smp $smp, machine $machine, timeout ${timeout}s"
echo "boot_test: $(printf "%q " "${cmd[@]}")"
start=$(date +%s.%N)
# If this script is killed outright (SIGKILL, e.g. by a harness), the
# emulator gets SIGTERM from the kernel instead of running on (setpriv is in
# util-linux).
deathsig=()
command -v setpriv >/dev/null 2>&1 && deathsig=(setpriv --pdeathsig TERM --)
(cd "$work" && exec "${deathsig[@]}" "${cmd[@]}" </dev/null >"$errlog" 2>&1) &
emu_pid=$!

outcome=timeout
deadline=$(( $(date +%s) + timeout ))
while (( $(date +%s) < deadline )); do
  if clean_log | grep -q 'hv: FATAL'; then
    outcome=fatal; break
  fi
  if clean_log | grep -Eq "$final_re"; then
    outcome=done; break
  fi
  if ! kill -0 "$emu_pid" 2>/dev/null; then
    outcome=exited; break
  fi
  sleep 0.1
done
end=$(date +%s.%N)
# A moment more to catch a late fault (or the rest of a FATAL report).
[[ "$outcome" == done || "$outcome" == fatal ]] && sleep 1
stop_emulator

text=$(clean_log)
failures=()
case "$outcome" in
  timeout) failures+=("no final line within ${timeout}s") ;;
  exited)  failures+=("the emulator ended before the final line") ;;
esac
if grep -q 'hv: FATAL' <<<"$text"; then
  failures+=("a FATAL line was printed")
fi
# The first boot line names the protocol: "... loaded by GRUB 2.06 via
# Multiboot2 (UEFI)" (or, from early kernels, "multiboot magic 0x36d76289").
magic=$([[ $mb == 1 ]] && echo 0x2badb002 || echo 0x36d76289)
proto_line=$(grep -Ei -m1 "via Multiboot$mb\b|magic $magic" <<<"$text" || true)
if [[ -z "$proto_line" ]]; then
  failures+=("no 'via Multiboot$mb' (or 'magic $magic') in the log: not entered by the expected protocol")
elif [[ ("$path" == uefi || "$path" == grub-pxe-efi) && "$proto_line" == *"via Multiboot"* \
        && "$proto_line" != *"(UEFI)"* ]]; then
  failures+=("booted by UEFI but the boot line does not say '(UEFI)': $proto_line")
fi
final=$(grep -Eo "$final_re" <<<"$text" || true)
if [[ -n "$final" ]]; then
  if [[ $(wc -l <<<"$final") -ne 1 ]]; then
    failures+=("the final line appeared more than once")
  fi
  line=$(tail -n1 <<<"$final")
  [[ "$line" =~ $final_re ]]
  cpus=${BASH_REMATCH[1]}
  free=${BASH_REMATCH[2]}
  (( cpus == smp )) || failures+=("$cpus CPUs online, expected $smp")
  (( free > 0 && free <= mem )) || failures+=("$free MiB free is not within 1..$mem")
fi

elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
if [[ ${#failures[@]} -eq 0 ]]; then
  # Wall time from starting the emulator to seeing the final line (0.1 s polls).
  echo "boot_test: PASS $path smp=$smp machine=$machine: $line (${elapsed}s)"
  exit 0
fi

echo "boot_test: FAIL $path smp=$smp machine=$machine after ${elapsed}s:"
for f in "${failures[@]}"; do echo "  - $f"; done
echo "----- serial log (escape sequences removed) -----"
printf '%s\n' "$text"
echo "----- emulator output -----"
tail -n 40 "$errlog" || true
if [[ -f "$work/bochs.log" ]]; then
  echo "----- bochs.log (errors and panics) -----"
  grep -E '[epP]\[' "$work/bochs.log" | tail -n 40 || true
fi
exit 1
