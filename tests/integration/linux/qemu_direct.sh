#!/usr/bin/env bash
# Boot the demo/test Linux guest (tools/mkguest) directly in QEMU, without
# the hypervisor: the reference the hv-hosted runs are compared with.
#
#   qemu_direct.sh [--build DIR] [--timeout SECONDS] KERNEL
#
# KERNEL is vmlinux (the ELF, entered at its PVH note) or vmlinuz (the
# bzImage, through QEMU's Linux boot protocol). The guest is built into
# DIR/guest (default build/guest) with tools/mkguest, which does nothing when
# it is up to date. QEMU runs with TCG, 2 CPUs, 256 MiB, COM1 as console and
# a virtio-serial-pci with a virtconsole port written to a file, kernel
# command line "console=ttyS0 tsc=reliable cryptomgr.notests guest.hvc_echo=1".
#
# The test passes when the guest's report lines (docs/guest.md) say: the
# kernel release mkguest recorded, `cpus 2`, 0 < mem_total_kb <= 256 MiB, the
# command line given, virtio device id 0x0003 (console), `hvc0 present`, at
# least one PCI device, `init done`; the virtconsole file holds
# "guest: hello on hvc0"; and QEMU exits by itself (poweroff) with status 0.
# Set HV_LINUX_KEEP=1 to keep the temporary directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
build="$root/build"
timeout=120

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "qemu_direct: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || usage
kernel=$1
case "$kernel" in
  vmlinux|vmlinuz) ;;
  *) echo "qemu_direct: KERNEL must be vmlinux or vmlinuz" >&2; usage ;;
esac
smp=2
mem=256
append="console=ttyS0 tsc=reliable cryptomgr.notests guest.hvc_echo=1"

guest="$build/guest"
if ! "$root/tools/mkguest" "$guest"; then
  echo "qemu_direct: FAIL $kernel: tools/mkguest failed"
  exit 1
fi
release=$(cat "$guest/kernel.release")

work=$(mktemp -d "${TMPDIR:-/tmp}/hv-linux-$kernel.XXXXXX")
log="$work/serial.log"
hvc="$work/hvc0.log"
errlog="$work/qemu.log"
: >"$log"
qemu_pid=""

stop_qemu() {
  [[ -n "$qemu_pid" ]] || return 0
  if kill -0 "$qemu_pid" 2>/dev/null; then
    kill -TERM "$qemu_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$qemu_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$qemu_pid" 2>/dev/null || true
  fi
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=""
}
cleanup() {
  stop_qemu
  if [[ "${HV_LINUX_KEEP:-0}" == 1 ]]; then
    echo "qemu_direct: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# QEMU option values are comma-separated: a comma in a path must be doubled.
q() { printf '%s' "${1//,/,,}"; }

# shellcheck disable=SC2054 # the commas are QEMU's
cmd=(qemu-system-x86_64 -accel tcg -nodefaults -nographic -monitor none -no-reboot
     -m "$mem" -smp "$smp"
     -kernel "$guest/$kernel" -initrd "$guest/initrd.img" -append "$append"
     -serial "file:$(q "$log")"
     -device virtio-serial-pci -device virtconsole,chardev=c0
     -chardev "file,id=c0,path=$(q "$hvc")")

clean_log() { tr -d '\r' <"$log"; }

echo "qemu_direct: $kernel, kernel $release, timeout ${timeout}s"
echo "qemu_direct: $(printf "%q " "${cmd[@]}")"
start=$(date +%s.%N)
deathsig=()
command -v setpriv >/dev/null 2>&1 && deathsig=(setpriv --pdeathsig TERM --)
(cd "$work" && exec "${deathsig[@]}" "${cmd[@]}" </dev/null >"$errlog" 2>&1) &
qemu_pid=$!

done_at=""
exited=0
deadline=$(( $(date +%s) + timeout ))
while (( $(date +%s) < deadline )); do
  if [[ -z "$done_at" ]] && grep -q '^guest: init done' <(clean_log); then
    done_at=$(date +%s.%N)
  fi
  if ! kill -0 "$qemu_pid" 2>/dev/null; then
    exited=1; break
  fi
  sleep 0.1
done
end=$(date +%s.%N)
status=0
if [[ $exited -eq 1 ]]; then
  wait "$qemu_pid" || status=$?
  qemu_pid=""
else
  stop_qemu
fi

text=$(clean_log)
failures=()
# value NAME: the rest of the line "guest: NAME ..." (the first one).
value() { sed -n "s/^guest: $1 //p" <<<"$text" | head -n1; }
expect() { # expect NAME VALUE
  local v
  v=$(value "$1")
  [[ "$v" == "$2" ]] || failures+=("guest: $1 is '${v:-<missing>}', expected '$2'")
}

[[ $exited -eq 1 ]] || failures+=("QEMU did not exit within ${timeout}s (no poweroff)")
[[ $exited -eq 0 || $status -eq 0 ]] || failures+=("QEMU exited with status $status")
grep -q '^guest: init done$' <<<"$text" || failures+=("no 'guest: init done'")
if grep -Eq 'Kernel panic|Oops|BUG:' <<<"$text"; then
  failures+=("the kernel reported a panic, oops or BUG")
fi
expect kernel "$release"
expect cpus "$smp"
expect cmdline "$append"
expect hvc0 present
mem_kb=$(value mem_total_kb)
if ! [[ "$mem_kb" =~ ^[0-9]+$ ]] || (( mem_kb == 0 || mem_kb > mem * 1024 )); then
  failures+=("guest: mem_total_kb is '${mem_kb:-<missing>}', expected 1..$((mem * 1024))")
fi
virtio=" $(value virtio) "
[[ "$virtio" == *" 0x0003 "* ]] || failures+=("guest: virtio is '$virtio', expected device id 0x0003 (console)")
pci=$(value pci)
[[ "$pci" =~ ^[0-9]+$ ]] && (( pci > 0 )) || failures+=("guest: pci is '${pci:-<missing>}', expected > 0")
grep -q '^guest: modules_failed' <<<"$text" && failures+=("$(grep -m1 '^guest: modules_failed' <<<"$text")")
grep -qx 'guest: hello on hvc0' < <(tr -d '\r' <"$hvc" 2>/dev/null) \
  || failures+=("the virtconsole file lacks 'guest: hello on hvc0'")

secs() { awk -v a="$start" -v b="$1" 'BEGIN { printf "%.1f", b - a }'; }
elapsed=$(secs "$end")
if [[ ${#failures[@]} -eq 0 ]]; then
  # Wall time from starting QEMU to seeing the line (0.1 s polls).
  echo "qemu_direct: PASS $kernel: kernel $release, init done after $(secs "$done_at")s, QEMU exited after ${elapsed}s"
  exit 0
fi

echo "qemu_direct: FAIL $kernel after ${elapsed}s:"
for f in "${failures[@]}"; do echo "  - $f"; done
echo "----- serial log -----"
printf '%s\n' "$text"
echo "----- virtconsole -----"
cat "$hvc" 2>/dev/null || true
echo "----- QEMU output -----"
tail -n 40 "$errlog" || true
exit 1
