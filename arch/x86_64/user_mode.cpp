#include "arch/x86_64/user_mode.hpp"

#include <cstddef>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/descriptors.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/user_abi.h"

namespace arch {
namespace {

static_assert(offsetof(InterruptFrame, cs) == FRAME_CS);
static_assert(sel::kernel_code == SEL_KERNEL_CODE);
static_assert(sel::user_data == SEL_USER_DATA && sel::user_code == SEL_USER_CODE);

namespace msr_nr {
constexpr uint32_t star = 0xc0000081, lstar = 0xc0000082, cstar = 0xc0000083, fmask = 0xc0000084;
}
constexpr uint64_t efer_sce = 1u << 0;
// RFLAGS bits cleared on SYSCALL: IF (kernel paths run with interrupts off),
// TF, DF (the ABI's direction), AC, NT.
constexpr uint64_t syscall_fmask = (1u << 8) | (1u << 9) | (1u << 10) | (1u << 14) | (1u << 18);
constexpr uint64_t rflags_if = 1u << 9, rflags_reserved1 = 1u << 1;

UserFrameHook interrupt_hook;
UserFrameHook exception_hook;

// What context_switch pops: r15 r14 r13 r12 rbx rbp, then the return address.
struct SwitchFrame {
    uint64_t r15, r14, r13, r12, rbx, rbp;
    uint64_t ret;
};

}  // namespace

void load_syscall_msrs()
{
    wrmsr(msr::efer, rdmsr(msr::efer) | efer_sce);
    // SYSCALL: CS = STAR[47:32], SS = +8. SYSRET (unused) would take
    // CS = STAR[63:48] + 16, SS = +8: the 64-bit user selectors.
    wrmsr(msr_nr::star, (uint64_t(sel::user_code32 & ~3u) << 48) | (uint64_t(sel::kernel_code) << 32));
    wrmsr(msr_nr::lstar, reinterpret_cast<uint64_t>(&syscall_entry));
    wrmsr(msr_nr::cstar, 0);
    wrmsr(msr_nr::fmask, syscall_fmask);
    wrmsr(msr::kernel_gs_base, 0);  // the user's GS base while in ring 3
}

uint64_t prepare_user_thread_stack(uint64_t kstack_top, uint64_t rip, uint64_t rsp, uint64_t arg)
{
    auto* f = reinterpret_cast<InterruptFrame*>(kstack_top - sizeof(InterruptFrame));
    *f = InterruptFrame{};
    f->rip = rip;
    f->cs = sel::user_code;
    f->rflags = rflags_if | rflags_reserved1;
    f->rsp = rsp;
    f->ss = sel::user_data;
    f->rdi = arg;
    auto* s = reinterpret_cast<SwitchFrame*>(reinterpret_cast<uint64_t>(f) - sizeof(SwitchFrame));
    *s = SwitchFrame{};
    s->ret = reinterpret_cast<uint64_t>(&thread_first_run);
    return reinterpret_cast<uint64_t>(s);
}

void enter_thread_context(uint64_t cr3, uint64_t gen, uint64_t kstack_top)
{
    PerCpu& c = this_cpu();
    c.tss.rsp[0] = kstack_top;
    c.kernel_rsp = kstack_top;
    if (read_cr3() != cr3 || c.user_tlb_gen != gen) write_cr3(cr3);
    c.user_tlb_gen = gen;
}

void load_io_bitmap(const uint8_t* bitmap, uint64_t gen)
{
    PerCpu& c = this_cpu();
    if (c.io_bitmap_owner != bitmap || (bitmap && c.io_bitmap_gen != gen)) {
        if (bitmap) __builtin_memcpy(c.io_bitmap, bitmap, 8192);
        else __builtin_memset(c.io_bitmap, 0xff, 8192);
        c.io_bitmap_owner = bitmap;
        c.io_bitmap_gen = gen;
    }
    // A VMX exit cut TR's limit to 0x67; a thread with ports needs the bitmap.
    if (bitmap) reload_tr(c.gdt, uint32_t(sizeof(Tss) + sizeof c.io_bitmap - 1));
}

void set_user_interrupt_hook(UserFrameHook hook) { interrupt_hook = hook; }
void set_user_exception_hook(UserFrameHook hook) { exception_hook = hook; }
UserFrameHook user_interrupt_hook() { return interrupt_hook; }
UserFrameHook user_exception_hook() { return exception_hook; }

}  // namespace arch
