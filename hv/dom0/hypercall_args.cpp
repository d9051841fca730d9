#include "hv/dom0/hypercall_args.hpp"

#include <cstddef>

#include "lib/str.hpp"

namespace hv::hc {

using abi::Status;

namespace {
bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}
}  // namespace

Status check_domain_config(const abi::DomainConfig& c, const HostLimits& host)
{
    size_t len = 0;
    while (len < sizeof c.name && c.name[len]) {
        if (!name_char(c.name[len])) return Status::invalid;
        ++len;
    }
    if (len == 0 || len == sizeof c.name) return Status::invalid;  // empty, or no NUL in the field
    if (lib::StrView(c.name, len) == "." || lib::StrView(c.name, len) == "..") return Status::invalid;
    if (c.memory < 4096 || c.memory > host.free_memory) return Status::no_memory;
    if (c.vcpus == 0 || c.vcpus > host.max_vcpus) return Status::out_of_range;
    if (c.weight > 65535 || uint64_t(c.cap) > 100ull * host.cpus) return Status::out_of_range;
    if (c.flags & ~abi::domain_flag::all) return Status::invalid;
    for (uint64_t r : c.reserved)
        if (r) return Status::invalid;
    return Status::ok;
}

Status check_map_args(uint64_t gpa, uint64_t size, uint64_t va, uint64_t flags, uint64_t domain_ram)
{
    if (flags & ~1ull) return Status::invalid;
    if ((gpa | size | va) & 0xfff || size == 0) return Status::invalid;
    if (gpa + size < gpa || gpa + size > domain_ram) return Status::out_of_range;
    if (va < map_window_base || va + size < va || va + size > map_window_top) return Status::out_of_range;
    return Status::ok;
}

Status check_vcpu_boot(const abi::VcpuBoot& b, uint64_t vcpu, uint32_t vcpu_count)
{
    if (vcpu >= vcpu_count) return Status::out_of_range;
    if (b.mode != abi::BootMode::multiboot32) return Status::unsupported;
    if (b.flags & ~abi::vcpu_boot_flag::virtual_wire) return Status::invalid;
    if (b.rip > 0xffffffffull || b.rax > 0xffffffffull || b.rbx > 0xffffffffull || b.rsi > 0xffffffffull ||
        b.rdi > 0xffffffffull)
        return Status::out_of_range;
    return Status::ok;
}

Status check_port_range(uint64_t base, uint64_t count)
{
    if (count == 0 || base > 0xffff || count > 0x10000 - base) return Status::out_of_range;
    return Status::ok;
}

Status check_sched_args(uint64_t weight, uint64_t cap, uint32_t cpus)
{
    if (weight > 65535) return Status::out_of_range;
    if (cap != ~0ull && cap > 100ull * cpus) return Status::out_of_range;
    return Status::ok;
}

}  // namespace hv::hc
