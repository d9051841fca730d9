// Exception handling: every CPU exception in the hypervisor is fatal for the
// CPU it happens on. The report gives the vector, error code, registers and a
// frame-pointer backtrace (resolve with addr2line -e hv.elf), then the CPU
// stops. NMIs are either a stop request from a panicking CPU or reported.
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/user_mode.hpp"
#include "hv/console.hpp"
#include "lib/format.hpp"
#include "lib/log.hpp"

extern "C" char __text_start[], __text_end[];

namespace arch {
namespace {

InterruptHandler handlers[256];
volatile bool stop_all = false;

void raw_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void raw_line(const char* fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    lib::vformat(line, sizeof line, fmt, ap);
    va_end(ap);
    hv::console::write_raw(line);
    hv::console::write_raw("\n");
    hv::console::ring().append(lib::LogLevel::error, line);
}

bool in_text(uint64_t a)
{
    return a >= reinterpret_cast<uint64_t>(__text_start) && a < reinterpret_cast<uint64_t>(__text_end);
}

// A saved frame pointer is only followed if it lies in a kernel stack: the
// stack area or the image's .bss (the BSP's boot stack).
bool plausible_frame(uint64_t rbp)
{
    if (rbp & 7) return false;
    bool stack_area = rbp >= stack_area_base && rbp < stack_area_base + max_cpus * stack_slot_size;
    bool image = rbp >= kernel_virt_offset && rbp < 0xfffffffffffff000ull;
    return stack_area || image;
}

[[noreturn]] void fatal_exception(const InterruptFrame& f)
{
    unsigned cpu = percpu_ready() ? this_cpu().index : 0;
    raw_line("hv: FATAL: exception %s (vector %lu, error %#lx) on CPU %u", exception_name(f.vector), f.vector,
             f.error_code, cpu);
    raw_line("  rip %016lx  cs %04lx  rflags %08lx  rsp %016lx  ss %04lx", f.rip, f.cs, f.rflags, f.rsp, f.ss);
    raw_line("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx", f.rax, f.rbx, f.rcx, f.rdx);
    raw_line("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx", f.rsi, f.rdi, f.rbp, f.r8);
    raw_line("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx", f.r9, f.r10, f.r11, f.r12);
    raw_line("  r13 %016lx  r14 %016lx  r15 %016lx", f.r13, f.r14, f.r15);
    raw_line("  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx", read_cr0(), read_cr2(), read_cr3(), read_cr4());
    raw_line("  backtrace (addr2line -e hv.elf):");
    raw_line("    %016lx", f.rip);
    uint64_t rbp = f.rbp;
    for (int depth = 0; depth < 16 && plausible_frame(rbp); ++depth) {
        auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        uint64_t ret = frame[1];
        if (!in_text(ret)) break;
        raw_line("    %016lx", ret);
        if (frame[0] <= rbp) break;  // frames must move up the stack
        rbp = frame[0];
    }
    // The hypervisor's own state can no longer be trusted: stop every CPU.
    smp::stop_others();
    raw_line("hv: CPU %u stopped; all CPUs halted", cpu);
    halt_forever();
}

}  // namespace

const char* exception_name(uint64_t v)
{
    static constexpr const char* names[32] = {
        "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
        "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
        "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
        "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
        "#XM SIMD exception", "#VE virtualization exception", "#CP control protection", "reserved 22",
        "reserved 23", "reserved 24", "reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
        "#VC VMM communication", "#SX security exception", "reserved 31"};
    return v < 32 ? names[v] : "interrupt";
}

void set_interrupt_handler(uint8_t vector, InterruptHandler handler) { handlers[vector] = handler; }

void request_stop_all() { stop_all = true; }

}  // namespace arch

extern "C" void interrupt_dispatch(arch::InterruptFrame* frame)
{
    using namespace arch;
    uint64_t v = frame->vector;
    if (v == vector::nmi) {
        if (stop_all) halt_forever();
        LOG_WARN("hv: unexpected NMI on CPU %u", percpu_ready() ? this_cpu().index : 0);
        return;
    }
    if (v < vector::first_external) {
        // A fault of a ring-3 thread is that thread's problem, not the host's.
        if (from_user(*frame) && user_exception_hook()) {
            user_exception_hook()(*frame);
            return;
        }
        fatal_exception(*frame);
    }
    if (v < 256 && handlers[v]) handlers[v](*frame);
    else if (v != vector::spurious) LOG_WARN("hv: interrupt on unhandled vector %lu", v);
    if (from_user(*frame) && user_interrupt_hook()) user_interrupt_hook()(*frame);
}
