// CPUID policy against a fake host that advertises everything: what a guest
// may see is masked, topology is the domain's, hypervisor leaves carry the
// signature and TSC frequency, and out-of-range or hostile leaf/subleaf
// numbers (beyond the maxima, the whole 0x4000xxxx range, subleaf != 0 of 7)
// give zeros rather than host data.
#include <gtest/gtest.h>

#include <string>

#include <cstring>

#include "hv/vcpu/cpuid_policy.hpp"

namespace {
hv::CpuidRegs everything(uint32_t leaf, uint32_t)
{
    if (leaf == 0) return {0x16, 0x756e6547, 0x6c65746e, 0x49656e69};  // GenuineIntel, max 0x16
    if (leaf == 0x80000000) return {0x80000021, 0, 0, 0};
    if (leaf == 1) return {0x000906ea, 0x12345678, 0xffffffff, 0xffffffff};
    return {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff};
}
hv::CpuidPolicy two_vcpus() { return {.vcpu_count = 2, .tsc_khz = 2500000, .apic_bus_khz = 1000000}; }
}  // namespace

TEST(CpuidPolicy, Leaf1HidesVirtualizationAndSetsHypervisorBit)
{
    auto r = hv::guest_cpuid(two_vcpus(), everything, 1, 1, 0);
    EXPECT_EQ(r.eax, 0x000906eau);
    EXPECT_FALSE(r.ecx & (1u << 5));   // VMX
    EXPECT_FALSE(r.ecx & (1u << 26));  // XSAVE
    EXPECT_FALSE(r.ecx & (1u << 21));  // x2APIC (no vLAPIC yet)
    EXPECT_TRUE(r.ecx & (1u << 31));   // hypervisor present
    EXPECT_FALSE(r.edx & (1u << 9));   // APIC
    EXPECT_TRUE(r.edx & (1u << 28));   // HTT with 2 vCPUs
    EXPECT_EQ(r.ebx >> 24, 1u);        // initial APIC ID = vCPU id
    EXPECT_EQ((r.ebx >> 16) & 0xff, 2u);
    EXPECT_EQ(r.ebx & 0xffff, 0x5678u);  // CLFLUSH line size, brand index kept
}

TEST(CpuidPolicy, MaximaAreClampedAndUnknownLeavesAreZero)
{
    auto p = two_vcpus();
    EXPECT_EQ(hv::guest_cpuid(p, everything, 0, 0, 0).eax, 0xdu);
    EXPECT_EQ(hv::guest_cpuid(p, everything, 0, 0x80000000, 0).eax, 0x80000008u);
    auto beyond = hv::guest_cpuid(p, everything, 0, 0x14, 0);
    EXPECT_EQ(beyond.eax | beyond.ebx | beyond.ecx | beyond.edx, 0u);
    auto pmu = hv::guest_cpuid(p, everything, 0, 0xa, 0);
    EXPECT_EQ(pmu.eax | pmu.ebx | pmu.ecx | pmu.edx, 0u);
    auto sub = hv::guest_cpuid(p, everything, 0, 7, 1);
    EXPECT_EQ(sub.eax | sub.ebx | sub.ecx | sub.edx, 0u);
    auto far = hv::guest_cpuid(p, everything, 0, 0x8000001f, 0);
    EXPECT_EQ(far.eax | far.ebx | far.ecx | far.edx, 0u);
    auto svm = hv::guest_cpuid(p, everything, 0, 0x80000001, 0);
    EXPECT_FALSE(svm.ecx & (1u << 2));  // SVM
}

TEST(CpuidPolicy, HypervisorLeaves)
{
    auto p = two_vcpus();
    auto base = hv::guest_cpuid(p, everything, 0, 0x40000000, 0);
    EXPECT_EQ(base.eax, 0x40000010u);
    char sig[13] = {};
    memcpy(sig, &base.ebx, 4);
    memcpy(sig + 4, &base.ecx, 4);
    memcpy(sig + 8, &base.edx, 4);
    EXPECT_STREQ(sig, "MicroHVx86  ");
    auto t = hv::guest_cpuid(p, everything, 0, 0x40000010, 0);
    EXPECT_EQ(t.eax, 2500000u);
    EXPECT_EQ(t.ebx, 1000000u);
    auto other = hv::guest_cpuid(p, everything, 0, 0x40000200, 0);
    EXPECT_EQ(other.eax | other.ebx | other.ecx | other.edx, 0u);
}

// Linux's KVM guest code finds kvm-clock here: signature, then features
// CLOCKSOURCE2 (3), NOP_IO_DELAY (1) and CLOCKSOURCE_STABLE_BIT (24).
TEST(CpuidPolicy, KvmCompatibleLeaves)
{
    auto p = two_vcpus();
    auto base = hv::guest_cpuid(p, everything, 0, 0x40000100, 0);
    EXPECT_EQ(base.eax, 0x40000101u);
    char sig[13] = {};
    memcpy(sig, &base.ebx, 4);
    memcpy(sig + 4, &base.ecx, 4);
    memcpy(sig + 8, &base.edx, 4);
    EXPECT_EQ(std::string(sig, 12), std::string("KVMKVMKVM\0\0\0", 12));
    auto f = hv::guest_cpuid(p, everything, 0, 0x40000101, 0);
    EXPECT_EQ(f.eax, (1u << 1) | (1u << 3) | (1u << 24));
    EXPECT_EQ(f.edx, 0u);  // no hints (no realtime vCPUs promised)
    p.kvm_leaves = false;
    base = hv::guest_cpuid(p, everything, 0, 0x40000100, 0);
    EXPECT_EQ(base.eax | base.ebx | base.ecx | base.edx, 0u);
}

// The guest TSC is the host's plus an offset: invariant whatever the host
// CPUID says; ARAT in leaf 6; RDTSCP hidden (TSC_AUX is not switched).
TEST(CpuidPolicy, TimerLeaves)
{
    auto p = two_vcpus();
    auto inv = hv::guest_cpuid(p, [](uint32_t, uint32_t) { return hv::CpuidRegs{0xffffffff, 0xffffffff, 0xffffffff, 0}; },
                               0, 0x80000007, 0);
    EXPECT_EQ(inv.edx, 1u << 8);
    EXPECT_EQ(hv::guest_cpuid(p, everything, 0, 6, 0).eax, 1u << 2);
    EXPECT_FALSE(hv::guest_cpuid(p, everything, 0, 0x80000001, 0).edx & (1u << 27));
}

TEST(CpuidPolicy, SingleVcpuHasNoHtt)
{
    hv::CpuidPolicy p{.vcpu_count = 1};
    auto r = hv::guest_cpuid(p, everything, 0, 1, 0);
    EXPECT_FALSE(r.edx & (1u << 28));
    EXPECT_EQ((r.ebx >> 16) & 0xff, 0u);
}

TEST(CpuidPolicy, VirtualApicIsAdvertisedWhateverTheHostHas)
{
    auto host_without = [](uint32_t leaf, uint32_t) -> hv::CpuidRegs {
        if (leaf == 0) return {0xd, 0, 0, 0};
        if (leaf == 0x80000000) return {0x80000008, 0, 0, 0};
        return {0, 0, 0, 0};
    };
    hv::CpuidPolicy p{.vcpu_count = 1, .local_apic = true};
    auto r = hv::guest_cpuid(p, host_without, 0, 1, 0);
    EXPECT_TRUE(r.edx & (1u << 9));   // APIC
    EXPECT_TRUE(r.ecx & (1u << 21));  // x2APIC
    EXPECT_TRUE(r.ecx & (1u << 24));  // TSC-deadline
}
