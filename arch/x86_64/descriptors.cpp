#include "arch/x86_64/descriptors.hpp"

#include "arch/x86_64/interrupts.hpp"

extern "C" const uint64_t interrupt_stub_table[256];

namespace arch {
namespace {

IdtEntry idt[256];

struct __attribute__((packed)) DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};

// Code/data descriptors: only DPL, L/D and type matter in long mode.
constexpr uint64_t code64(unsigned dpl) { return 0x00af9a000000ffffull | (uint64_t(dpl) << 45); }
constexpr uint64_t code32(unsigned dpl) { return 0x00cf9a000000ffffull | (uint64_t(dpl) << 45); }
constexpr uint64_t data(unsigned dpl) { return 0x00cf92000000ffffull | (uint64_t(dpl) << 45); }

}  // namespace

void reload_tr(Gdt& gdt, uint32_t tss_limit)
{
    uint64_t e = gdt.entries[6];
    e &= ~(0xffffull | (0xfull << 48));
    e |= (tss_limit & 0xffff) | (uint64_t((tss_limit >> 16) & 0xf) << 48);
    e &= ~(1ull << 41);  // available, not busy: LTR needs that
    gdt.entries[6] = e;
    asm volatile("ltr %w0" : : "r"(sel::tss) : "memory");
}

void load_gdt_tss(Gdt& gdt, Tss& tss, uint32_t io_bitmap_bytes)
{
    gdt.entries[0] = 0;
    gdt.entries[1] = code64(0);
    gdt.entries[2] = data(0);
    gdt.entries[3] = code32(3);
    gdt.entries[4] = data(3);
    gdt.entries[5] = code64(3);
    // 64-bit TSS descriptor (type 9, available), 16 bytes.
    auto base = reinterpret_cast<uint64_t>(&tss);
    uint64_t limit = sizeof(Tss) + io_bitmap_bytes - 1;
    gdt.entries[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
                     (((base >> 24) & 0xff) << 56);
    gdt.entries[7] = base >> 32;
    tss.iomap_base = sizeof(Tss);  // the bitmap follows; without one, ring 3 gets #GP on port access

    DescriptorPointer gdtr{sizeof(Gdt) - 1, reinterpret_cast<uint64_t>(&gdt)};
    asm volatile("lgdt %0\n"
                 "pushq %1\n"
                 "leaq 1f(%%rip), %%rax\n"
                 "pushq %%rax\n"
                 "lretq\n"
                 "1:\n"
                 "movw %w2, %%ds\n"
                 "movw %w2, %%es\n"
                 "movw %w2, %%ss\n"
                 :
                 : "m"(gdtr), "i"(uint64_t(sel::kernel_code)), "r"(uint32_t(sel::kernel_data))
                 : "rax", "memory");
    asm volatile("ltr %w0" : : "r"(sel::tss));
}

void init_idt()
{
    for (unsigned v = 0; v < 256; ++v) {
        uint64_t h = interrupt_stub_table[v];
        Ist ist = Ist::none;
        if (v == vector::nmi) ist = Ist::nmi;
        else if (v == vector::double_fault) ist = Ist::double_fault;
        else if (v == vector::machine_check) ist = Ist::machine_check;
        idt[v] = IdtEntry{
            .offset_low = uint16_t(h),
            .selector = sel::kernel_code,
            .ist = uint8_t(ist),
            .type_attr = 0x8e,  // present, DPL 0, 64-bit interrupt gate
            .offset_mid = uint16_t(h >> 16),
            .offset_high = uint32_t(h >> 32),
            .reserved = 0,
        };
    }
}

void load_idt()
{
    DescriptorPointer idtr{sizeof idt - 1, reinterpret_cast<uint64_t>(&idt[0])};
    asm volatile("lidt %0" : : "m"(idtr));
}

}  // namespace arch
