// The Virtual Machine Control Block (AMD APM Vol. 2, Appendix B): control
// area at 0x000, state-save area at 0x400. Offsets are fixed by hardware and
// checked below.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch::svm {

struct VmcbSegment {
    uint16_t selector;
    uint16_t attrib;  // packed: descriptor bits 40-47 in 7:0, 52-55 in 11:8
    uint32_t limit;
    uint64_t base;
};
static_assert(sizeof(VmcbSegment) == 16);

struct alignas(4096) Vmcb {
    // Control area (Table B-1).
    uint32_t intercept_cr;         // 0x000: reads 15:0, writes 31:16
    uint32_t intercept_dr;         // 0x004
    uint32_t intercept_exceptions; // 0x008
    uint32_t intercept_misc1;      // 0x00c
    uint32_t intercept_misc2;      // 0x010
    uint32_t intercept_misc3;      // 0x014
    uint8_t reserved0[0x03c - 0x018];
    uint16_t pause_filter_threshold;  // 0x03c
    uint16_t pause_filter_count;      // 0x03e
    uint64_t iopm_base_pa;         // 0x040
    uint64_t msrpm_base_pa;        // 0x048
    uint64_t tsc_offset;           // 0x050
    uint32_t guest_asid;           // 0x058
    uint8_t tlb_control;           // 0x05c
    uint8_t reserved1[3];
    uint64_t vintr;                // 0x060: V_TPR, V_IRQ, V_INTR_MASKING ...
    uint64_t interrupt_shadow;     // 0x068: bit 0 shadow, bit 1 guest interrupt mask
    uint64_t exit_code;            // 0x070
    uint64_t exit_info1;           // 0x078
    uint64_t exit_info2;           // 0x080
    uint64_t exit_int_info;        // 0x088
    uint64_t np_control;           // 0x090: bit 0 nested paging enable
    uint64_t avic_apic_bar;        // 0x098
    uint64_t ghcb_pa;              // 0x0a0
    uint64_t event_inject;         // 0x0a8
    uint64_t n_cr3;                // 0x0b0
    uint64_t virt_ext;             // 0x0b8: LBR virtualization, VMSAVE/VMLOAD virtualization
    uint32_t clean_bits;           // 0x0c0
    uint32_t reserved2;
    uint64_t next_rip;             // 0x0c8
    uint8_t insn_bytes_fetched;    // 0x0d0
    uint8_t insn_bytes[15];        // 0x0d1
    uint8_t reserved3[0x400 - 0x0e0];

    // State-save area (Table B-2).
    VmcbSegment es, cs, ss, ds, fs, gs;  // 0x400
    VmcbSegment gdtr, ldtr, idtr, tr;    // 0x460
    uint8_t reserved4[0x4cb - 0x4a0];
    uint8_t cpl;                   // 0x4cb
    uint32_t reserved5;
    uint64_t efer;                 // 0x4d0
    uint8_t reserved6[0x548 - 0x4d8];
    uint64_t cr4;                  // 0x548
    uint64_t cr3;                  // 0x550
    uint64_t cr0;                  // 0x558
    uint64_t dr7;                  // 0x560
    uint64_t dr6;                  // 0x568
    uint64_t rflags;               // 0x570
    uint64_t rip;                  // 0x578
    uint8_t reserved7[0x5d8 - 0x580];
    uint64_t rsp;                  // 0x5d8
    uint64_t s_cet, ssp, isst_addr;  // 0x5e0
    uint64_t rax;                  // 0x5f8
    uint64_t star;                 // 0x600
    uint64_t lstar;                // 0x608
    uint64_t cstar;                // 0x610
    uint64_t sfmask;               // 0x618
    uint64_t kernel_gs_base;       // 0x620
    uint64_t sysenter_cs;          // 0x628
    uint64_t sysenter_esp;         // 0x630
    uint64_t sysenter_eip;         // 0x638
    uint64_t cr2;                  // 0x640
    uint8_t reserved8[0x668 - 0x648];
    uint64_t g_pat;                // 0x668
    uint64_t dbgctl;               // 0x670
    uint8_t reserved9[0x1000 - 0x678];
};
static_assert(sizeof(Vmcb) == 4096);
static_assert(offsetof(Vmcb, pause_filter_threshold) == 0x03c);
static_assert(offsetof(Vmcb, iopm_base_pa) == 0x040);
static_assert(offsetof(Vmcb, tsc_offset) == 0x050);
static_assert(offsetof(Vmcb, guest_asid) == 0x058);
static_assert(offsetof(Vmcb, tlb_control) == 0x05c);
static_assert(offsetof(Vmcb, exit_code) == 0x070);
static_assert(offsetof(Vmcb, exit_int_info) == 0x088);
static_assert(offsetof(Vmcb, np_control) == 0x090);
static_assert(offsetof(Vmcb, event_inject) == 0x0a8);
static_assert(offsetof(Vmcb, n_cr3) == 0x0b0);
static_assert(offsetof(Vmcb, clean_bits) == 0x0c0);
static_assert(offsetof(Vmcb, next_rip) == 0x0c8);
static_assert(offsetof(Vmcb, insn_bytes) == 0x0d1);
static_assert(offsetof(Vmcb, es) == 0x400);
static_assert(offsetof(Vmcb, gdtr) == 0x460);
static_assert(offsetof(Vmcb, tr) == 0x490);
static_assert(offsetof(Vmcb, cpl) == 0x4cb);
static_assert(offsetof(Vmcb, efer) == 0x4d0);
static_assert(offsetof(Vmcb, cr4) == 0x548);
static_assert(offsetof(Vmcb, rflags) == 0x570);
static_assert(offsetof(Vmcb, rip) == 0x578);
static_assert(offsetof(Vmcb, rsp) == 0x5d8);
static_assert(offsetof(Vmcb, rax) == 0x5f8);
static_assert(offsetof(Vmcb, star) == 0x600);
static_assert(offsetof(Vmcb, cr2) == 0x640);
static_assert(offsetof(Vmcb, g_pat) == 0x668);

// Intercept bits (Table B-1).
namespace intercept {
// misc1 (offset 0x00c)
inline constexpr uint32_t intr = 1u << 0;
inline constexpr uint32_t nmi = 1u << 1;
inline constexpr uint32_t smi = 1u << 2;
inline constexpr uint32_t init = 1u << 3;
inline constexpr uint32_t vintr = 1u << 4;
inline constexpr uint32_t rdtsc = 1u << 14;
inline constexpr uint32_t cpuid = 1u << 18;
inline constexpr uint32_t invd = 1u << 22;
inline constexpr uint32_t pause = 1u << 23;
inline constexpr uint32_t hlt = 1u << 24;
inline constexpr uint32_t invlpga = 1u << 26;
inline constexpr uint32_t ioio_prot = 1u << 27;
inline constexpr uint32_t msr_prot = 1u << 28;
inline constexpr uint32_t task_switch = 1u << 29;
inline constexpr uint32_t shutdown = 1u << 31;
// misc2 (offset 0x010)
inline constexpr uint32_t vmrun = 1u << 0;
inline constexpr uint32_t vmmcall = 1u << 1;
inline constexpr uint32_t vmload = 1u << 2;
inline constexpr uint32_t vmsave = 1u << 3;
inline constexpr uint32_t stgi = 1u << 4;
inline constexpr uint32_t clgi = 1u << 5;
inline constexpr uint32_t skinit = 1u << 6;
inline constexpr uint32_t rdtscp = 1u << 7;
inline constexpr uint32_t wbinvd = 1u << 9;
inline constexpr uint32_t monitor = 1u << 10;
inline constexpr uint32_t mwait = 1u << 11;
inline constexpr uint32_t xsetbv = 1u << 13;
}  // namespace intercept

// EXITCODE values (Appendix C).
enum class ExitCode : uint64_t {
    cr0_read = 0x00,
    cr0_write = 0x10,
    cr15_write = 0x1f,
    exception_base = 0x40,  // + vector
    intr = 0x60,
    nmi = 0x61,
    smi = 0x62,
    init = 0x63,
    vintr = 0x64,
    rdtsc = 0x6e,
    cpuid = 0x72,
    iret = 0x74,
    invd = 0x76,
    pause = 0x77,
    hlt = 0x78,
    invlpg = 0x79,
    ioio = 0x7b,
    msr = 0x7c,
    task_switch = 0x7d,
    shutdown = 0x7f,
    vmrun = 0x80,
    vmmcall = 0x81,
    rdtscp = 0x87,
    wbinvd = 0x89,
    monitor = 0x8a,
    mwait = 0x8b,
    xsetbv = 0x8d,
    npf = 0x400,
    invalid = ~0ull,
};

// TLB_CONTROL (offset 0x05c).
inline constexpr uint8_t tlb_flush_none = 0;
inline constexpr uint8_t tlb_flush_all = 1;
inline constexpr uint8_t tlb_flush_asid = 3;

// EVENTINJ / EXITINTINFO (APM 15.20).
inline constexpr uint64_t event_valid = 1ull << 31;
inline constexpr uint64_t event_error_valid = 1ull << 11;

// V_INTR (offset 0x060).
inline constexpr uint64_t vintr_irq = 1ull << 8;
inline constexpr uint64_t vintr_ign_tpr = 1ull << 20;
inline constexpr uint64_t vintr_masking = 1ull << 24;

}  // namespace arch::svm
