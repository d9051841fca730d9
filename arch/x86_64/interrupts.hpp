// Interrupt and exception entry: the frame the assembly stubs build and the
// C++ dispatcher they call.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch {

namespace vector {
inline constexpr uint8_t divide_error = 0;
inline constexpr uint8_t debug = 1;
inline constexpr uint8_t nmi = 2;
inline constexpr uint8_t breakpoint = 3;
inline constexpr uint8_t invalid_opcode = 6;
inline constexpr uint8_t double_fault = 8;
inline constexpr uint8_t general_protection = 13;
inline constexpr uint8_t page_fault = 14;
inline constexpr uint8_t machine_check = 18;
inline constexpr uint8_t first_external = 32;
// Hypervisor-owned vectors, high priority classes first.
inline constexpr uint8_t ipi_stop = 0xf0;     // another CPU panicked: stop
inline constexpr uint8_t ipi_call = 0xf1;     // run a function on this CPU
inline constexpr uint8_t ipi_kick = 0xf2;     // re-evaluate the vCPUs of this CPU (forces a VM exit)
inline constexpr uint8_t lapic_timer = 0xef;
inline constexpr uint8_t lapic_error = 0xfe;
inline constexpr uint8_t spurious = 0xff;
}  // namespace vector

// Saved by entry.S, lowest address first. Keep in sync with entry.S.
struct InterruptFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;  // 0 for vectors without one
    // Pushed by the CPU.
    uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(offsetof(InterruptFrame, vector) == 15 * 8);
static_assert(offsetof(InterruptFrame, rip) == 17 * 8);
static_assert(sizeof(InterruptFrame) == 22 * 8);

using InterruptHandler = void (*)(InterruptFrame& frame);
// Installs a handler for an external or IPI vector (>= 32).
void set_interrupt_handler(uint8_t vector, InterruptHandler handler);

const char* exception_name(uint64_t vector);
// Makes every CPU that receives an NMI stop (panic path).
void request_stop_all();

}  // namespace arch

extern "C" void interrupt_dispatch(arch::InterruptFrame* frame);
