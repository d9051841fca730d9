// libFuzzer target for the hypercall argument checks (hv/dom0/hypercall_args):
// byte 0 picks the check, the rest becomes its arguments (a DomainConfig or
// VcpuBoot filled from the input, zero-padded, and 64-bit numbers). Besides
// crashes and UB, every "ok" is checked against the rule it claims: a
// violation traps, so the fuzzer reports it.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hv/dom0/hypercall_args.hpp"


namespace hv {
namespace {
void require(bool ok)
{
    if (!ok) __builtin_trap();
}

uint64_t u64_at(const uint8_t* d, size_t n, size_t at)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && at + i < n; ++i) v |= uint64_t(d[at + i]) << (8 * i);
    return v;
}
}  // namespace

}  // namespace hv

using namespace hv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t* d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0: {
        hv::abi::DomainConfig c{};
        std::memcpy(&c, d, n < sizeof c ? n : sizeof c);
        // Short inputs cover the name; the numeric fields come from a small
        // spread so that valid configs are reachable too.
        if (n <= 32) {
            c.memory = 1ull << (n % 40);
            c.vcpus = uint32_t(n % 70);
        }
        hv::hc::HostLimits host{64ull << 20, 2, 64};
        if (hv::hc::check_domain_config(c, host) == hv::abi::Status::ok) {
            size_t len = strnlen(c.name, sizeof c.name);
            require(len > 0 && len < sizeof c.name);
            for (size_t i = 0; i < len; ++i) require(c.name[i] != '/' && c.name[i] != ' ');
            require(c.memory >= 4096 && c.memory <= host.free_memory);
            require(c.vcpus >= 1 && c.vcpus <= 64 && c.weight <= 65535 && c.cap <= 200);
            require((c.flags & ~hv::abi::domain_flag::all) == 0);
        }
        break;
    }
    case 1: {
        uint64_t gpa = u64_at(d, n, 0), sz = u64_at(d, n, 8), va = u64_at(d, n, 16), flags = u64_at(d, n, 24) & 3;
        uint64_t ram = u64_at(d, n, 32);
        if (hv::hc::check_map_args(gpa, sz, va, flags, ram) == hv::abi::Status::ok) {
            require(sz && !((gpa | sz | va) & 0xfff) && gpa + sz <= ram && gpa + sz > gpa);
            require(va >= hv::hc::map_window_base && va + sz <= hv::hc::map_window_top && va + sz > va);
        }
        break;
    }
    case 2: {
        hv::abi::VcpuBoot b{};
        std::memcpy(&b, d, n < sizeof b ? n : sizeof b);
        uint32_t count = uint32_t(u64_at(d, n, 0) % 65);
        uint64_t vcpu = u64_at(d, n, 8) % 80;
        if (hv::hc::check_vcpu_boot(b, vcpu, count) == hv::abi::Status::ok)
            require(vcpu < count && b.mode == hv::abi::BootMode::multiboot32 && b.rip <= 0xffffffffull);
        break;
    }
    case 3: {
        uint64_t base = u64_at(d, n, 0) % 0x20000, count = u64_at(d, n, 8) % 0x20000;
        if (hv::hc::check_port_range(base, count) == hv::abi::Status::ok) require(count && base + count <= 0x10000);
        break;
    }
    case 4: {
        uint64_t w = u64_at(d, n, 0) % 70000, cap = (n > 8 && d[8] == 0xff) ? ~0ull : u64_at(d, n, 9) % 300;
        if (hv::hc::check_sched_args(w, cap, 2) == hv::abi::Status::ok) require(w <= 65535 && (cap == ~0ull || cap <= 200));
        break;
    }
    }
    return 0;
}
