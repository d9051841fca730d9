// Dom0's side of the hypercall ABI (hv/abi/hypercall.hpp): one SYSCALL per
// call, typed wrappers that return Status and the value in rdx.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/abi/hypercall.hpp"

namespace vmm::hc {

struct Ret {
    hv::abi::Status status;
    uint64_t value;
    bool ok() const { return status == hv::abi::Status::ok; }
};

inline Ret call(hv::abi::Call c, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                uint64_t a5 = 0)
{
    uint64_t rax = uint64_t(c), rdx = a2;
    register uint64_t r10 asm("r10") = a3;
    register uint64_t r8 asm("r8") = a4;
    register uint64_t r9 asm("r9") = a5;
    asm volatile("syscall"
                 : "+a"(rax), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                 : "D"(a0), "S"(a1)
                 : "rcx", "r11", "memory");
    return {hv::abi::Status(rax), rdx};
}

inline Ret console_write(const void* buf, size_t len)
{
    return call(hv::abi::Call::console_write, reinterpret_cast<uint64_t>(buf), len);
}
// Blocks up to timeout_ns (~0 = forever) for at least one byte.
inline Ret console_read(void* buf, size_t cap, uint64_t timeout_ns)
{
    return call(hv::abi::Call::console_read, reinterpret_cast<uint64_t>(buf), cap, timeout_ns);
}
inline Ret log_read(uint64_t seq, char* buf, size_t cap)
{
    return call(hv::abi::Call::log_read, seq, reinterpret_cast<uint64_t>(buf), cap);
}
inline Ret system_info(hv::abi::SystemInfo& out)
{
    return call(hv::abi::Call::system_info, reinterpret_cast<uint64_t>(&out));
}
inline uint64_t clock_ns() { return call(hv::abi::Call::clock).value; }
inline Ret yield() { return call(hv::abi::Call::yield); }
inline Ret sleep_ns(uint64_t ns) { return call(hv::abi::Call::sleep, ns); }
inline Ret handle_close(uint32_t h) { return call(hv::abi::Call::handle_close, h); }
inline Ret handle_dup(uint32_t h, uint32_t rights) { return call(hv::abi::Call::handle_dup, h, rights); }
inline Ret handle_info(uint32_t h, hv::abi::HandleInfo& out)
{
    return call(hv::abi::Call::handle_info, h, reinterpret_cast<uint64_t>(&out));
}
// Starts fn(arg) on a new thread of Dom0 with the stack ending at stack_top.
inline Ret thread_create(void (*fn)(uint64_t), uint64_t stack_top, uint64_t arg)
{
    return call(hv::abi::Call::thread_create, reinterpret_cast<uint64_t>(fn), stack_top, arg, ~0ull);
}
inline Ret domain_create(uint32_t control, const hv::abi::DomainConfig& cfg)
{
    return call(hv::abi::Call::domain_create, control, reinterpret_cast<uint64_t>(&cfg));
}
inline Ret domain_destroy(uint32_t d) { return call(hv::abi::Call::domain_destroy, d); }
inline Ret domain_pause(uint32_t d) { return call(hv::abi::Call::domain_pause, d); }
inline Ret domain_unpause(uint32_t d) { return call(hv::abi::Call::domain_unpause, d); }
inline Ret domain_info(uint32_t d, hv::abi::DomainInfo& out)
{
    return call(hv::abi::Call::domain_info, d, reinterpret_cast<uint64_t>(&out));
}
inline Ret domain_list(uint32_t control, uint32_t first_id, hv::abi::DomainInfo* out, size_t cap)
{
    return call(hv::abi::Call::domain_list, control, first_id, reinterpret_cast<uint64_t>(out), cap);
}
inline Ret domain_map(uint32_t d, uint64_t gpa, uint64_t size, uint64_t va, bool writable)
{
    return call(hv::abi::Call::domain_map, d, gpa, size, va, writable ? 1 : 0);
}
inline Ret unmap(uint64_t va, uint64_t size) { return call(hv::abi::Call::unmap, va, size); }
inline Ret vcpu_boot(uint32_t d, uint32_t vcpu, const hv::abi::VcpuBoot& b)
{
    return call(hv::abi::Call::vcpu_boot, d, vcpu, reinterpret_cast<uint64_t>(&b));
}
inline Ret vcpu_info(uint32_t d, uint32_t vcpu, hv::abi::VcpuInfo& out)
{
    return call(hv::abi::Call::vcpu_info, d, vcpu, reinterpret_cast<uint64_t>(&out));
}
inline Ret domain_sched(uint32_t d, uint64_t weight, uint64_t cap) { return call(hv::abi::Call::domain_sched, d, weight, cap); }
inline Ret ioport_forward(uint32_t d, uint16_t base, uint32_t count) { return call(hv::abi::Call::ioport_forward, d, base, count); }
inline Ret ioreq_wait(hv::abi::IoRequest& out, uint64_t timeout_ns)
{
    return call(hv::abi::Call::ioreq_wait, reinterpret_cast<uint64_t>(&out), timeout_ns);
}
inline Ret ioreq_complete(uint32_t d, uint32_t vcpu, uint64_t value) { return call(hv::abi::Call::ioreq_complete, d, vcpu, value); }
inline Ret mmio_forward(uint32_t d, uint64_t gpa, uint64_t size) { return call(hv::abi::Call::mmio_forward, d, gpa, size); }
inline Ret domain_shutdown(uint32_t d, hv::abi::ShutdownKind kind, uint32_t value)
{
    return call(hv::abi::Call::domain_shutdown, d, uint64_t(kind), value);
}

inline Ret log_write(unsigned level, const char* s, size_t n)
{
    return call(hv::abi::Call::log_write, level, reinterpret_cast<uint64_t>(s), n);
}

inline Ret evtchn_wait(uint64_t timeout_ns) { return call(hv::abi::Call::evtchn_wait, timeout_ns); }
inline Ret evtchn_send(uint32_t port) { return call(hv::abi::Call::evtchn_send, port); }
inline Ret evtchn_close(uint32_t port) { return call(hv::abi::Call::evtchn_close, port); }
inline Ret ioevent_bind(uint32_t d, uint16_t ioport) { return call(hv::abi::Call::ioevent_bind, d, ioport); }
inline Ret ioevent_bind_mmio(uint32_t d, uint64_t gpa) { return call(hv::abi::Call::ioevent_bind_mmio, d, gpa); }
inline Ret ioport_buffer(uint32_t d, uint16_t base, uint32_t count)
{
    return call(hv::abi::Call::ioport_buffer, d, base, count);
}
inline Ret ioport_drain(uint32_t d, hv::abi::BufferedWrite* out, size_t cap)
{
    return call(hv::abi::Call::ioport_drain, d, reinterpret_cast<uint64_t>(out), cap);
}
// value 0-255 publishes it for 1-byte reads of port; ~0 withdraws it.
inline Ret ioport_latch(uint32_t d, uint16_t port, uint64_t value) { return call(hv::abi::Call::ioport_latch, d, port, value); }
inline Ret evtchn_bind_vector(uint32_t d, uint32_t vcpu, uint8_t vector)
{
    return call(hv::abi::Call::evtchn_bind_vector, d, vcpu, vector);
}

inline Ret domain_exits(uint32_t d, hv::abi::ExitCounts& out)
{
    return call(hv::abi::Call::domain_exits, d, reinterpret_cast<uint64_t>(&out));
}

inline Ret vcpu_pin(uint32_t d, uint32_t vcpu, uint32_t cpu) { return call(hv::abi::Call::vcpu_pin, d, vcpu, cpu); }

inline Ret region_create(uint64_t size) { return call(hv::abi::Call::region_create, size); }
inline Ret region_map(uint32_t r, uint64_t va, bool writable) { return call(hv::abi::Call::region_map, r, va, writable ? 1 : 0); }
inline Ret region_grant(uint32_t r, uint32_t d, uint64_t gpa, bool writable)
{
    return call(hv::abi::Call::region_grant, r, d, gpa, writable ? 1 : 0);
}

inline Ret device_ports(uint32_t control, uint16_t base, uint32_t count)
{
    return call(hv::abi::Call::device_ports, control, base, count);
}
inline Ret device_mmio_map(uint32_t control, uint64_t phys, uint64_t size, uint64_t va)
{
    return call(hv::abi::Call::device_mmio_map, control, phys, size, va);
}
inline Ret region_phys(uint32_t r) { return call(hv::abi::Call::region_phys, r); }
inline Ret device_irq_bind(uint32_t control, uint32_t gsi) { return call(hv::abi::Call::device_irq_bind, control, gsi); }
inline Ret device_irq_ack(uint32_t port) { return call(hv::abi::Call::device_irq_ack, port); }
inline Ret pci_config_read(uint32_t control, uint64_t address, uint32_t width)
{
    return call(hv::abi::Call::pci_config_read, control, address, width);
}
inline Ret pci_config_write(uint32_t control, uint64_t address, uint32_t width, uint32_t value)
{
    return call(hv::abi::Call::pci_config_write, control, address, width, value);
}
inline Ret device_msi_bind(uint32_t control, hv::abi::MsiMessage* out)
{
    return call(hv::abi::Call::device_msi_bind, control, reinterpret_cast<uint64_t>(out));
}

inline Ret domain_populate(uint32_t d, uint64_t gpa, uint64_t size) { return call(hv::abi::Call::domain_populate, d, gpa, size); }
inline Ret domain_release(uint32_t d, uint64_t gpa, uint64_t size) { return call(hv::abi::Call::domain_release, d, gpa, size); }

inline Ret vcpu_nmi(uint32_t d, uint32_t vcpu) { return call(hv::abi::Call::vcpu_nmi, d, vcpu); }
// level: 0 lower, 1 raise, 2 pulse (an edge).
inline Ret domain_irq(uint32_t d, uint32_t gsi, uint32_t level) { return call(hv::abi::Call::domain_irq, d, gsi, level); }
inline Ret domain_msi(uint32_t d, uint64_t address, uint32_t data) { return call(hv::abi::Call::domain_msi, d, address, data); }
inline Ret domain_extint(uint32_t d, uint8_t vector) { return call(hv::abi::Call::domain_extint, d, vector); }

[[noreturn]] inline void thread_exit(int64_t code)
{
    call(hv::abi::Call::thread_exit, uint64_t(code));
    __builtin_unreachable();
}

}  // namespace vmm::hc
