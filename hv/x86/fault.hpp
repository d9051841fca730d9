// Why an x86 emulation step could not complete, as a value the caller turns
// into an action: inject an exception into the guest, or apply the domain's
// crash policy. Used by the page walker, the instruction fetcher and the MMIO
// emulator.
#pragma once

#include <cstdint>

#include "lib/result.hpp"

namespace hv::x86 {

enum class FaultKind : uint8_t {
    none = 0,
    unsupported,         // not emulated (or an invalid encoding): inject #UD or stop the guest
    page_fault,          // inject #PF(error_code) with CR2 = address
    general_protection,  // inject #GP(0) (non-canonical address, instruction too long)
    bus_error,           // a device or guest-memory callback failed, or a page
                         // table lies outside guest RAM: the domain's crash policy
};

// #PF error code bits (SDM Vol. 3A §4.7, Figure 4-12).
namespace pf_error {
inline constexpr uint32_t present = 1u << 0;   // 0: not present; 1: protection violation
inline constexpr uint32_t write = 1u << 1;
inline constexpr uint32_t user = 1u << 2;
inline constexpr uint32_t reserved = 1u << 3;  // a reserved bit was set in a paging entry
inline constexpr uint32_t fetch = 1u << 4;     // instruction fetch (I/D)
}  // namespace pf_error

struct Fault {
    FaultKind kind = FaultKind::none;
    uint32_t error_code = 0;  // #PF error code
    uint64_t address = 0;     // faulting linear address (#PF: CR2)

    constexpr bool operator==(const Fault&) const = default;
};

constexpr Fault unsupported_fault() { return {FaultKind::unsupported, 0, 0}; }
constexpr Fault bus_fault(uint64_t address = 0) { return {FaultKind::bus_error, 0, address}; }
constexpr Fault gp_fault(uint64_t address = 0) { return {FaultKind::general_protection, 0, address}; }
constexpr Fault page_fault(uint32_t error_code, uint64_t linear) { return {FaultKind::page_fault, error_code, linear}; }

// Result types: a Status is ok when its Fault is none (lib::Result<void, E>).
using EmuStatus = lib::Result<void, Fault>;
template <typename T> using EmuResult = lib::Result<T, Fault>;

constexpr const char* fault_kind_name(FaultKind kind)
{
    switch (kind) {
    case FaultKind::none: return "none";
    case FaultKind::unsupported: return "unsupported instruction";
    case FaultKind::page_fault: return "page fault";
    case FaultKind::general_protection: return "general protection";
    case FaultKind::bus_error: return "bus error";
    }
    return "?";
}

}  // namespace hv::x86
