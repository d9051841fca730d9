// Vendor-neutral pieces of guest CPU state shared by hv/ and both backends.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv {

// General-purpose registers in x86 encoding order (ModRM reg numbers), so the
// instruction emulator can index them. gpr[4] (RSP) and, on SVM, gpr[0] (RAX)
// live in the VMCS/VMCB during guest execution; backends copy them around
// each run so hv/ always sees all sixteen here.
enum class Gpr : uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };

struct GuestGprs {
    uint64_t gpr[16];
    uint64_t& operator[](Gpr r) { return gpr[static_cast<unsigned>(r)]; }
    uint64_t operator[](Gpr r) const { return gpr[static_cast<unsigned>(r)]; }
};
static_assert(sizeof(GuestGprs) == 128);
static_assert(offsetof(GuestGprs, gpr) == 0);

enum class SegReg : uint8_t { es, cs, ss, ds, fs, gs, ldtr, tr };

// Segment attributes in the 12-bit packed form (descriptor bits 40-47 in
// attrib[7:0], bits 52-55 in attrib[11:8]) plus an explicit "unusable" flag
// for VMX. Backends convert.
struct Segment {
    uint16_t selector;
    uint16_t attrib;
    uint32_t limit;
    uint64_t base;
    bool unusable;
};

namespace seg_attr {
inline constexpr uint16_t accessed = 1u << 0;
inline constexpr uint16_t s = 1u << 4;  // code/data (not system)
inline constexpr uint16_t present = 1u << 7;
inline constexpr uint16_t l = 1u << 9;   // 64-bit code
inline constexpr uint16_t db = 1u << 10;  // 32-bit default size
inline constexpr uint16_t g = 1u << 11;   // 4 KiB granularity
inline constexpr uint16_t code32 = 0xb | s | present | db | g;  // execute/read, accessed
inline constexpr uint16_t data32 = 0x3 | s | present | db | g;  // read/write, accessed
inline constexpr uint16_t code16 = 0xb | s | present;
inline constexpr uint16_t data16 = 0x3 | s | present;
inline constexpr uint16_t tss32_busy = 0xb | present;
inline constexpr uint16_t ldt = 0x2 | present;
constexpr unsigned dpl(uint16_t a) { return (a >> 5) & 3; }
}  // namespace seg_attr

struct DescriptorTable {
    uint64_t base;
    uint32_t limit;
};

// An event to inject at the next VM entry (SDM 26.6, APM 15.20).
enum class EventType : uint8_t { external = 0, nmi = 2, exception = 3, software_int = 4 };
struct Event {
    uint8_t vector;
    EventType type;
    bool has_error;
    uint32_t error_code;
    uint8_t insn_len;  // software interrupts/exceptions on VMX
};

}  // namespace hv
