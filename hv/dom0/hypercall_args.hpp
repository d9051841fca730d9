// Checking hypercall arguments that arrive as plain values: the structs and
// numbers a caller passes, before any object is touched. Portable and pure,
// so the rules are unit-tested and fuzzed on the host (tests/fuzz); the
// kernel's handlers call these and then look up objects and rights.
#pragma once

#include <cstdint>

#include "hv/abi/hypercall.hpp"

namespace hv::hc {

// What the host offers, for limits.
struct HostLimits {
    uint64_t free_memory;  // bytes
    uint32_t cpus;         // online CPUs
    uint32_t max_vcpus;    // per domain
};

// A DomainConfig as domain_create takes it: a name of 1-31 characters from
// [A-Za-z0-9._-] (NUL-terminated in its 32 bytes), 4 KiB..free memory,
// 1..max_vcpus vCPUs, weight 0 (default) or 1..65535, cap 0..100 x CPUs,
// known flags only, reserved fields zero.
abi::Status check_domain_config(const abi::DomainConfig& c, const HostLimits& host);

// domain_map's numbers: page-aligned, non-empty, inside the domain's RAM,
// and the target inside the caller's mapping window
// [map_window_base, user_top) without wrapping; flags bit 0 only.
inline constexpr uint64_t map_window_base = 0x0000'1000'0000'0000ull;
inline constexpr uint64_t map_window_top = 0x0000'7fff'ffff'f000ull;
abi::Status check_map_args(uint64_t gpa, uint64_t size, uint64_t va, uint64_t flags, uint64_t domain_ram);

// vcpu_boot: a known mode, a vCPU that exists, and 32-bit values for the
// 32-bit entry state.
abi::Status check_vcpu_boot(const abi::VcpuBoot& b, uint64_t vcpu, uint32_t vcpu_count);

// ioport_forward: a non-empty range inside the 64 KiB port space.
abi::Status check_port_range(uint64_t base, uint64_t count);

// domain_sched: weight 0 (keep) or 1..65535; cap ~0 (keep) or 0..100 x CPUs.
abi::Status check_sched_args(uint64_t weight, uint64_t cap, uint32_t cpus);

}  // namespace hv::hc
