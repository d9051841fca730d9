// Hypercall argument checks (hv/dom0/hypercall_args): each rule at its
// edges. Bad inputs tried: empty, unterminated, "..", path and blank names;
// memory 0, 4095, more than free; 0 and 65 vCPUs; weight 65536, cap above
// 100 x CPUs; unknown flags; each reserved field set; unaligned, empty,
// wrapping, out-of-RAM and out-of-window mappings and unknown map flags;
// unknown boot modes, vCPUs past the count, 64-bit entry values; empty,
// wrapping and past-64K port ranges.
#include <gtest/gtest.h>

#include <cstring>

#include "hv/dom0/hypercall_args.hpp"


namespace hv {
namespace {

using abi::Status;

abi::DomainConfig good_config()
{
    abi::DomainConfig c{};
    std::strcpy(c.name, "web-1.test_a");
    c.memory = 16 << 20;
    c.vcpus = 2;
    return c;
}
constexpr hc::HostLimits host{256ull << 20, 2, 64};

TEST(HypercallArgs, GoodConfigPasses) { EXPECT_EQ(hc::check_domain_config(good_config(), host), Status::ok); }

TEST(HypercallArgs, Names)
{
    for (const char* bad : {"", "..", ".", "a/b", "a b", "x\n", "\xff"}) {
        auto c = good_config();
        std::memset(c.name, 0, sizeof c.name);
        std::strcpy(c.name, bad);
        EXPECT_EQ(hc::check_domain_config(c, host), Status::invalid) << bad;
    }
    auto c = good_config();
    std::memset(c.name, 'a', sizeof c.name);  // no NUL in the field
    EXPECT_EQ(hc::check_domain_config(c, host), Status::invalid);
    c.name[31] = '\0';  // 31 characters: the longest
    EXPECT_EQ(hc::check_domain_config(c, host), Status::ok);
}

TEST(HypercallArgs, Numbers)
{
    auto c = good_config();
    c.memory = 4095;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::no_memory);
    c.memory = 4096;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::ok);
    c.memory = host.free_memory + 1;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::no_memory);
    c = good_config();
    c.vcpus = 0;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::out_of_range);
    c.vcpus = 65;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::out_of_range);
    c.vcpus = 64;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::ok);
    c.weight = 65536;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::out_of_range);
    c.weight = 65535;
    c.cap = 201;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::out_of_range);
    c.cap = 200;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::ok);
}

TEST(HypercallArgs, FlagsAndReserved)
{
    auto c = good_config();
    c.flags = abi::domain_flag::all;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::ok);
    c.flags = 1u << 31;
    EXPECT_EQ(hc::check_domain_config(c, host), Status::invalid);
    for (size_t i = 0; i < 4; ++i) {
        c = good_config();
        c.reserved[i] = 1;
        EXPECT_EQ(hc::check_domain_config(c, host), Status::invalid) << i;
    }
}

TEST(HypercallArgs, MapArgs)
{
    const uint64_t w = hc::map_window_base, ram = 16 << 20;
    EXPECT_EQ(hc::check_map_args(0, ram, w, 1, ram), Status::ok);
    EXPECT_EQ(hc::check_map_args(0, ram, w, 2, ram), Status::invalid);
    EXPECT_EQ(hc::check_map_args(1, 4096, w, 0, ram), Status::invalid);
    EXPECT_EQ(hc::check_map_args(0, 4097, w, 0, ram), Status::invalid);
    EXPECT_EQ(hc::check_map_args(0, 0, w, 0, ram), Status::invalid);
    EXPECT_EQ(hc::check_map_args(ram, 4096, w, 0, ram), Status::out_of_range);
    EXPECT_EQ(hc::check_map_args(~0ull & ~0xfffull, 0x2000, w, 0, ram), Status::out_of_range);
    EXPECT_EQ(hc::check_map_args(0, 4096, w - 4096, 0, ram), Status::out_of_range);
    EXPECT_EQ(hc::check_map_args(0, 4096, hc::map_window_top, 0, ram), Status::out_of_range);
    EXPECT_EQ(hc::check_map_args(0, 4096, hc::map_window_top - 4096, 0, ram), Status::ok);
    EXPECT_EQ(hc::check_map_args(0, 4096, 0xffff800000000000ull, 0, ram), Status::out_of_range);
}

TEST(HypercallArgs, VcpuBoot)
{
    abi::VcpuBoot b{};
    b.mode = abi::BootMode::multiboot32;
    b.rip = 0x100000;
    b.rax = 0x2badb002;
    b.rbx = 0x9000;
    EXPECT_EQ(hc::check_vcpu_boot(b, 0, 1), Status::ok);
    EXPECT_EQ(hc::check_vcpu_boot(b, 1, 1), Status::out_of_range);
    b.rip = 1ull << 32;
    EXPECT_EQ(hc::check_vcpu_boot(b, 0, 1), Status::out_of_range);
    b.rip = 0x100000;
    b.flags = abi::vcpu_boot_flag::virtual_wire;
    EXPECT_EQ(hc::check_vcpu_boot(b, 0, 1), Status::ok);
    b.flags = 2;
    EXPECT_EQ(hc::check_vcpu_boot(b, 0, 1), Status::invalid);
    b.flags = 0;
    b.mode = abi::BootMode(7);
    EXPECT_EQ(hc::check_vcpu_boot(b, 0, 1), Status::unsupported);
}

TEST(HypercallArgs, PortsAndSched)
{
    EXPECT_EQ(hc::check_port_range(0x3f8, 8), Status::ok);
    EXPECT_EQ(hc::check_port_range(0xffff, 1), Status::ok);
    EXPECT_EQ(hc::check_port_range(0xffff, 2), Status::out_of_range);
    EXPECT_EQ(hc::check_port_range(0, 0), Status::out_of_range);
    EXPECT_EQ(hc::check_port_range(0x10000, 1), Status::out_of_range);
    EXPECT_EQ(hc::check_port_range(0, 0x10000), Status::ok);
    EXPECT_EQ(hc::check_port_range(1, ~0ull), Status::out_of_range);
    EXPECT_EQ(hc::check_sched_args(0, ~0ull, 2), Status::ok);
    EXPECT_EQ(hc::check_sched_args(65535, 200, 2), Status::ok);
    EXPECT_EQ(hc::check_sched_args(65536, 0, 2), Status::out_of_range);
    EXPECT_EQ(hc::check_sched_args(1, 201, 2), Status::out_of_range);
}

}  // namespace
}  // namespace hv
