// Guest page-table walker: translates a guest linear address through the
// guest's own paging structures (no paging, 32-bit, PAE, 4-level and 5-level;
// 4K, 2M, 4M and 1G pages) and reports the #PF error code the CPU would have
// produced. SDM Vol. 3A chapter 4 (§4.3 32-bit, §4.4 PAE, §4.5 4/5-level,
// §4.6 access rights, §4.7 page-fault error code).
//
// Not modelled: protection keys (CR4.PKE/PKS), the PDPTE registers of PAE
// paging (the PDPTEs are read from memory at walk time, not cached at the
// last CR3 load), and segment limits.
#pragma once

#include <cstdint>

#include "hv/x86/fault.hpp"
#include "hv/x86/guest_phys.hpp"

namespace hv::x86 {

// Control-register bits the walker reads (SDM Vol. 3A §2.5, §2.2.1).
namespace cr0 {
inline constexpr uint64_t pe = 1ull << 0;
inline constexpr uint64_t wp = 1ull << 16;
inline constexpr uint64_t pg = 1ull << 31;
}  // namespace cr0
namespace cr4 {
inline constexpr uint64_t pse = 1ull << 4;
inline constexpr uint64_t pae = 1ull << 5;
inline constexpr uint64_t la57 = 1ull << 12;
inline constexpr uint64_t smep = 1ull << 20;
inline constexpr uint64_t smap = 1ull << 21;
}  // namespace cr4
namespace efer {
inline constexpr uint64_t lme = 1ull << 8;
inline constexpr uint64_t lma = 1ull << 10;
inline constexpr uint64_t nxe = 1ull << 11;
}  // namespace efer

// The guest's paging controls, copied from its exit state.
struct Paging {
    uint64_t cr0 = 0;
    uint64_t cr3 = 0;
    uint64_t cr4 = 0;
    uint64_t efer = 0;
    uint8_t maxphyaddr = 52;  // CPUID.80000008H:EAX[7:0] as shown to the guest
};

enum class PagingMode : uint8_t { none, bits32, pae, level4, level5 };
PagingMode paging_mode(const Paging& p);

struct Access {
    bool write = false;
    bool user = false;   // CPL 3 (and not an implicit supervisor access)
    bool fetch = false;  // instruction fetch
    bool ac = false;     // RFLAGS.AC (SMAP override for supervisor data accesses)
};

struct Translation {
    uint64_t gpa = 0;
    uint64_t page_size = 0;  // 4K, 2M, 4M or 1G (4G when paging is off)
    bool writable = true;    // R/W=1 at every level
    bool user = true;        // U/S=1 at every level
    bool executable = true;  // XD=0 at every level (or NX disabled)
};

// Walks the guest tables for `linear`. Failures: page_fault (error code and
// address for injection), general_protection (non-canonical address in
// IA-32e mode), bus_error (a paging structure is not in guest RAM).
EmuResult<Translation> translate(const Paging& paging, const GuestPhys& mem, uint64_t linear, Access access);

}  // namespace hv::x86
