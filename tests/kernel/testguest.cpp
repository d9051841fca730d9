#include "tests/kernel/testguest.hpp"

#include <cstring>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "hv/domain/domain.hpp"
#include "hv/sched/sched_config.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/elf.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"

namespace hv::testguest {
namespace {

constexpr uint64_t default_mem = 32ull << 20;
constexpr uint64_t mbi_gpa = 0x9000;      // Multiboot info for the guest
constexpr uint64_t mbi_cmdline_gpa = 0x9100;

// QEMU's isa-debug-exit: the written value v ends the run with status
// (v << 1) | 1.
bool debug_exit(Vcpu& v, uint16_t, unsigned, bool in, uint32_t& value)
{
    if (in) return false;
    Domain& d = *v.domain;
    d.has_exit_status = true;
    d.exit_value = value;
    shutdown_domain(d, "debug-exit port written");
    return true;
}

void flush_console(Domain& d)
{
    if (!d.console_len) return;
    d.console_line[d.console_len] = '\0';
    LOG_INFO("dom%u console: %s", d.id, d.console_line);
    d.console_len = 0;
}

// A 16550 that is always ready: transmit bytes become log lines; the line
// status register says "transmitter empty"; everything else reads as 0.
bool com1(Vcpu& v, uint16_t port, unsigned, bool in, uint32_t& value)
{
    Domain& d = *v.domain;
    unsigned reg = port - 0x3f8;
    if (in) {
        value = reg == 5 ? 0x60 : 0;
        return true;
    }
    if (reg != 0) return true;
    char c = char(value);
    if (c == '\n') flush_console(d);
    else if (c != '\r' && d.console_len < sizeof d.console_line - 1) d.console_line[d.console_len++] = c;
    if (d.console_len == sizeof d.console_line - 1) flush_console(d);
    return true;
}

// The MMIO test device at 0xfe000000: 4 KiB of byte-addressable scratch
// registers; the last 8 bytes count the accesses that reached the device (so a
// guest can tell emulation from RAM).
constexpr uint64_t test_device_base = 0xfe000000;
constexpr uint64_t test_device_counter = 0xff8;
// Writing the low byte of a vector to 0xff0 raises that external interrupt now;
// writing (microseconds << 8 | vector) to 0xfe8 raises it after a delay.
constexpr uint64_t test_device_irq_now = 0xff0;
constexpr uint64_t test_device_irq_later = 0xfe8;
// Any write to 0xfe0 raises an NMI.
constexpr uint64_t test_device_nmi = 0xfe0;

uint8_t* test_device_bytes(Vcpu& v) { return reinterpret_cast<uint8_t*>(v.domain->test_device_regs); }

lib::Result<uint64_t> test_device_read(Vcpu& v, uint64_t gpa, uint8_t size)
{
    uint64_t off = gpa - test_device_base;
    uint64_t value = 0;
    memcpy(&value, test_device_bytes(v) + off, size);
    ++v.domain->test_device_regs[test_device_counter / 8];
    return value;
}

lib::Status test_device_write(Vcpu& v, uint64_t gpa, uint8_t size, uint64_t value)
{
    uint64_t off = gpa - test_device_base;
    if (off == test_device_irq_now) {
        raise_irq(v, uint8_t(value));
        return {};
    }
    if (off == test_device_nmi) {
        raise_nmi(v);
        return {};
    }
    if (off == test_device_irq_later) {
        uint64_t us = value >> 8;
        v.timer_vector = uint8_t(value);
        v.timer_deadline = arch::rdtsc() + us * arch::lapic::timer_info().tsc_hz / 1'000'000;
        return {};
    }
    if (off + size > test_device_counter) {
        ++v.domain->test_device_regs[test_device_counter / 8];
        return {};  // the counter is read-only
    }
    memcpy(test_device_bytes(v) + off, &value, size);
    ++v.domain->test_device_regs[test_device_counter / 8];
    return {};
}

bool post_code(Vcpu&, uint16_t, unsigned, bool in, uint32_t& value)
{
    if (in) value = 0;
    return true;
}

void run_one(const boot::Module& m, size_t index)
{
    lib::StrView args(m.cmdline);
    lib::StrView path = args.split_first(' ');
    char name[32];
    size_t slash = 0;
    for (size_t i = 0; i < path.size(); ++i)
        if (path[i] == '/') slash = i + 1;
    lib::copy_cstr(name, sizeof name, path.substr(slash));
    uint64_t mem = default_mem;
    bool pause_exits = false;
    uint32_t vcpus = 1;
    bool directed_yield = true;
    uint32_t weight = sched::default_weight, cap = 0;
    while (!args.empty()) {
        lib::StrView tok = args.split_first(' ');
        if (tok == "pause_exits=1") pause_exits = true;
        if (tok == "directed_yield=off") directed_yield = false;
        if (tok.starts_with("vcpus=")) {
            auto n = lib::parse_u64(tok.substr(6));
            if (n.ok() && n.value() >= 1 && n.value() <= Domain::max_vcpus) vcpus = uint32_t(n.value());
            else LOG_WARN("testguest: bad vcpus= for module %lu, using 1", index);
        }
        if (tok.starts_with("weight=")) {
            auto n = lib::parse_u64(tok.substr(7));
            if (n.ok() && n.value() >= sched::min_weight && n.value() <= sched::max_weight)
                weight = uint32_t(n.value());
            else LOG_WARN("testguest: bad weight= for module %lu, using %u", index, sched::default_weight);
        }
        if (tok.starts_with("cap=")) {
            // Percent of one CPU for the whole domain, 0 = none.
            auto n = lib::parse_u64(tok.substr(4));
            if (n.ok() && n.value() <= 100ull * arch::smp::online_count()) cap = uint32_t(n.value());
            else LOG_WARN("testguest: bad cap= for module %lu, using none", index);
        }
        if (tok.starts_with("mem=")) {
            auto v = lib::parse_size(tok.substr(4));
            if (v.ok() && v.value() >= (2ull << 20) && v.value() <= (4ull << 30)) mem = v.value();
            else LOG_WARN("testguest: bad mem= for module %lu, using %lu MiB", index, default_mem >> 20);
        }
    }

    const void* image = arch::phys_to_virt<const void>(m.start);
    auto elf = lib::elf::parse(image, m.end - m.start);
    if (!elf.ok()) {
        LOG_ERROR("testguest: module %lu (%s) is not a loadable ELF: %s", index, name, lib::error_name(elf.error()));
        return;
    }
    auto dom = create_domain(name, mem, vcpus);
    if (!dom.ok()) {
        LOG_ERROR("testguest: cannot create a domain for %s: %s", name, lib::error_name(dom.error()));
        return;
    }
    Domain& d = *dom.value();
    for (size_t i = 0; i < elf->segment_count; ++i) {
        const auto& s = elf->segments[i];
        auto* bytes = static_cast<const uint8_t*>(image) + s.file_offset;
        if (!copy_to_guest(d, s.paddr, bytes, s.file_size).ok() ||
            !zero_guest(d, s.paddr + s.file_size, s.mem_size - s.file_size).ok()) {
            LOG_ERROR("testguest: %s: segment at %#lx does not fit in %lu MiB of guest RAM", name, s.paddr,
                      mem >> 20);
            destroy_domain(&d);
            return;
        }
    }
    // Multiboot1 info: memory sizes and the command line (Multiboot 0.6.96 3.3).
    struct {
        uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    } mbi{(1u << 0) | (1u << 2), 639, uint32_t((mem >> 10) - 1024), 0, uint32_t(mbi_cmdline_gpa)};
    (void)copy_to_guest(d, mbi_gpa, &mbi, sizeof mbi);
    (void)copy_to_guest(d, mbi_cmdline_gpa, m.cmdline, strlen(m.cmdline) + 1);

    (void)add_port_handler(d, {0xf4, 4, debug_exit});
    (void)add_port_handler(d, {0x3f8, 8, com1});
    (void)add_port_handler(d, {0x80, 1, post_code});
    (void)add_mmio_handler(d, {test_device_base, 0x1000, test_device_read, test_device_write});

    Vcpu& v = *d.vcpus[0];
    set_flat32_entry_state(v, {uint32_t(elf->entry), 0x2badb002, uint32_t(mbi_gpa), 0, 0});
    if (pause_exits) d.pause.enabled = true;  // every PAUSE exits where there is no filter
    d.directed_yield = directed_yield;
    d.sched_weight = weight;
    d.sched_cap = cap;
    if (v.hw) v.hw->set_pause_tuning(d.pause);
    LOG_INFO("dom%u: running test guest %s (entry %#lx) on %s, weight %u cap %u", d.id, name, elf->entry,
             arch::virt::vendor_name(), weight, cap);
    start_domain(d);
    cpu_loop_until_domain_done(d);
    detach_domain(d);
    flush_console(d);
    for (uint32_t i = 0; i < d.vcpu_count; ++i) dump_exit_counters(*d.vcpus[i]);
    if (d.has_exit_status)
        LOG_INFO("dom%u: %s exited via debug port: value %#x (QEMU exit status %u)", d.id, name, d.exit_value,
                 ((d.exit_value << 1) | 1) & 0xff);
    else
        LOG_INFO("dom%u: %s ended without a debug-port exit", d.id, name);
    destroy_domain(&d);
}

}  // namespace

void run_all(const boot::BootInfo& info)
{
    if (arch::virt::caps().vendor == arch::virt::Vendor::none) {
        LOG_ERROR("testguest: no hardware virtualization: %lu test guest(s) not run", info.module_count);
        return;
    }
    for (size_t i = 0; i < info.module_count; ++i) run_one(info.modules[i], i);
    LOG_INFO("testguest: all %lu test guest(s) done", info.module_count);
}

}  // namespace hv::testguest
