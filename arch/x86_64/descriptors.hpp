// GDT, TSS and IDT (SDM Vol. 3A 3.4.5, 7.7, 6.14). One GDT and TSS per CPU
// (a TSS descriptor carries a per-CPU busy bit); one IDT shared by all.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch {

// Selectors. The user part is laid out for SYSRET (STAR): user data at
// STAR[63:48]+8, 64-bit user code at STAR[63:48]+16.
namespace sel {
inline constexpr uint16_t kernel_code = 0x08;
inline constexpr uint16_t kernel_data = 0x10;
inline constexpr uint16_t user_code32 = 0x18;
inline constexpr uint16_t user_data = 0x20 | 3;
inline constexpr uint16_t user_code = 0x28 | 3;
inline constexpr uint16_t tss = 0x30;
}  // namespace sel

// Interrupt stack table slots (TSS.IST1..3) for exceptions that must not run
// on a possibly broken stack.
enum class Ist : uint8_t { none = 0, nmi = 1, double_fault = 2, machine_check = 3 };

struct __attribute__((packed)) Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);
static_assert(offsetof(Tss, rsp) == 4);
static_assert(offsetof(Tss, ist) == 36);
static_assert(offsetof(Tss, iomap_base) == 102);

struct alignas(16) Gdt {
    uint64_t entries[8];  // null, kcode, kdata, ucode32, udata, ucode64, tss(2)
};
static_assert(sizeof(Gdt) == 64);

struct __attribute__((packed)) IdtEntry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtEntry) == 16);

// Builds this CPU's GDT and TSS in the given storage and loads GDTR, the
// segment registers and TR. The I/O permission bitmap (io_bitmap_bytes,
// 0 for none) follows the TSS in memory.
void load_gdt_tss(Gdt& gdt, Tss& tss, uint32_t io_bitmap_bytes);
// Reloads TR with the TSS's full limit (a VMX exit leaves it at 0x67, which
// cuts the I/O bitmap off: SDM Vol. 3C 28.5.2).
void reload_tr(Gdt& gdt, uint32_t tss_limit);
// Builds the shared IDT (once, on the BSP).
void init_idt();
// Loads IDTR on this CPU.
void load_idt();

}  // namespace arch
