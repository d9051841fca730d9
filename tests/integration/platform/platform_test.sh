#!/usr/bin/env bash
# Boots hv.elf32 on QEMU machines whose firmware tables the hypervisor must
# read right, and checks what it reports against what QEMU was told to build:
#   numa-vtd   q35, 4 CPUs in 2 NUMA nodes of 512 MiB, intel-iommu:
#              SRAT (2 nodes), MCFG, DMAR present, 4 CPUs online
#   amd-vi     q35, 2 CPUs, amd-iommu: IVRS present, one NUMA node
#   maxcpus    pc, 4 CPUs with maxcpus=2 and an unknown option: 2 CPUs online,
#              the unknown option warned about by name
#   platform_test.sh BUILD_DIR CASE
set -euo pipefail
build=$1
case_name=$2
elf32="$build/hv.elf32"
[[ -f "$elf32" ]] || { echo "platform_test: FAIL: $elf32 missing"; exit 1; }

base=(qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -nodefaults -display none -monitor none -no-reboot)
append="console=com1,115200"
case "$case_name" in
  numa-vtd)
    args=(-machine q35 -smp 4 -m 1024
          -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M
          -numa node,memdev=m0,cpus=0-1,nodeid=0 -numa node,memdev=m1,cpus=2-3,nodeid=1
          -device intel-iommu) ;;
  amd-vi) args=(-machine q35 -smp 2 -m 512 -device amd-iommu) ;;
  maxcpus) args=(-machine pc -smp 4 -m 256); append="$append maxcpus=2 frobnicate=1" ;;
  *) echo "platform_test: FAIL: unknown case $case_name"; exit 1 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/hv-platform.XXXXXX")
log="$work/serial.log"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"${base[@]}" "${args[@]}" -serial "file:$log" -kernel "$elf32" -append "$append" &
pid=$!
for _ in $(seq 600); do
  grep -qE "CPUs online|hv: FATAL" "$log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
sleep 0.5

fail() {
  echo "platform_test: FAIL $case_name: $1"
  echo "---- serial log ----"
  tr -d '\r' <"$log"
  exit 1
}
expect() { grep -qF -- "$1" "$log" || fail "missing: $1"; }
! grep -q "hv: FATAL" "$log" || fail "fatal error during boot"
case "$case_name" in
  numa-vtd)
    expect "SRAT 3 memory ranges; DMAR yes; IVRS no"   # QEMU adds a hotplug range
    expect "MCFG 1;"
    expect "on 2 NUMA node(s)"
    expect "hv: 4 CPUs online" ;;
  amd-vi)
    expect "DMAR no; IVRS yes"
    expect "on 1 NUMA node(s)"
    expect "hv: 2 CPUs online" ;;
  maxcpus)
    expect "hv: unknown option 'frobnicate' ignored"
    expect "hv: 2 CPUs online" ;;
esac
echo "platform_test: PASS $case_name"
