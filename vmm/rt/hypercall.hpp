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
[[noreturn]] inline void thread_exit(int64_t code)
{
    call(hv::abi::Call::thread_exit, uint64_t(code));
    __builtin_unreachable();
}

}  // namespace vmm::hc
