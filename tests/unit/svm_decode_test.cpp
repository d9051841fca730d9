// #VMEXIT decoding (APM Vol. 2 15.7-15.10, Appendix C) on VMCBs built here:
// I/O EXITINFO1 bit fields and the next RIP from EXITINFO2, instruction
// lengths with and without NRIP save, NPF error-code bits, CR exits with and
// without decode assists, exceptions with error codes and CR2, the 64- and
// 32-bit forms of VMEXIT_INVALID, and codes a guest must never cause (VMRUN,
// task switch) reported as unhandled.
#include <gtest/gtest.h>

#include <memory>

#include "arch/x86_64/svm/decode.hpp"

using arch::svm::ExitCode;
using arch::svm::Vmcb;
using hv::ExitReason;

namespace {
std::unique_ptr<Vmcb> vmcb(ExitCode c, uint64_t info1 = 0, uint64_t info2 = 0)
{
    auto v = std::make_unique<Vmcb>();
    *v = Vmcb{};
    v->exit_code = uint64_t(c);
    v->exit_info1 = info1;
    v->exit_info2 = info2;
    v->rip = 0x1000;
    return v;
}
arch::virt::Capabilities qemu_tcg() { return {.vendor = arch::virt::Vendor::svm, .nested_paging = true}; }
arch::virt::Capabilities with_nrip()
{
    auto c = qemu_tcg();
    c.nrip_save = c.decode_assists = true;
    return c;
}
}  // namespace

TEST(SvmDecode, IoExitFields)
{
    // OUTSW with REP, 32-bit addresses, port 0x3f8; next RIP 0x1002.
    uint64_t info = (0x3f8ull << 16) | (1u << 8) | (1u << 5) | (1u << 3) | (1u << 2);
    auto v = vmcb(ExitCode::ioio, info, 0x1002);
    auto x = arch::svm::decode_exit(*v, qemu_tcg(), 0);
    EXPECT_EQ(x.reason, ExitReason::io);
    EXPECT_EQ(x.io.port, 0x3f8);
    EXPECT_FALSE(x.io.in);
    EXPECT_TRUE(x.io.string);
    EXPECT_TRUE(x.io.rep);
    EXPECT_EQ(x.io.size, 2);
    EXPECT_EQ(x.io.addr_size, 4);
    EXPECT_EQ(x.insn_len, 2);  // from EXITINFO2, no NRIP needed
    auto in8 = vmcb(ExitCode::ioio, (0x60ull << 16) | (1u << 4) | 1, 0x1001);
    auto y = arch::svm::decode_exit(*in8, qemu_tcg(), 0);
    EXPECT_TRUE(y.io.in);
    EXPECT_EQ(y.io.size, 1);
    EXPECT_EQ(y.io.addr_size, 8);
    EXPECT_EQ(y.insn_len, 1);
}

TEST(SvmDecode, LengthsWithAndWithoutNrip)
{
    auto cpuid = vmcb(ExitCode::cpuid);
    EXPECT_EQ(arch::svm::decode_exit(*cpuid, qemu_tcg(), 0).insn_len, 2);  // fixed length
    cpuid->next_rip = 0x1003;                                              // e.g. a prefixed CPUID
    EXPECT_EQ(arch::svm::decode_exit(*cpuid, with_nrip(), 0).insn_len, 3);
    EXPECT_EQ(arch::svm::decode_exit(*cpuid, qemu_tcg(), 0).insn_len, 2);  // NRIP ignored when not offered
    cpuid->next_rip = 0x2000;  // absurd NRIP (more than 15 bytes on): fall back
    EXPECT_EQ(arch::svm::decode_exit(*cpuid, with_nrip(), 0).insn_len, 2);
    EXPECT_EQ(arch::svm::decode_exit(*vmcb(ExitCode::hlt), qemu_tcg(), 0).insn_len, 1);
    EXPECT_EQ(arch::svm::decode_exit(*vmcb(ExitCode::vmmcall), qemu_tcg(), 0).insn_len, 3);
}

TEST(SvmDecode, NestedPageFault)
{
    auto v = vmcb(ExitCode::npf, 0x2 | (1ull << 32), 0xfee00030);  // write, final translation, not present
    auto x = arch::svm::decode_exit(*v, qemu_tcg(), 0);
    EXPECT_EQ(x.reason, ExitReason::mmio);
    EXPECT_EQ(x.mmio.gpa, 0xfee00030u);
    EXPECT_TRUE(x.mmio.write);
    EXPECT_FALSE(x.mmio.present);
    EXPECT_FALSE(x.mmio.fetch);
    EXPECT_EQ(x.insn_len, 0);  // must be decoded
    auto f = vmcb(ExitCode::npf, 0x11, 0x5000);
    EXPECT_TRUE(arch::svm::decode_exit(*f, qemu_tcg(), 0).mmio.fetch);
}

TEST(SvmDecode, CrExitsAndDecodeAssists)
{
    auto v = vmcb(ExitCode(0x14), (1ull << 63) | 3);  // CR4 write from RBX
    auto plain = arch::svm::decode_exit(*v, qemu_tcg(), 0);
    EXPECT_EQ(plain.reason, ExitReason::cr_access);
    EXPECT_EQ(plain.cr.cr, 4);
    EXPECT_TRUE(plain.cr.write);
    EXPECT_FALSE(plain.cr.gpr_valid);  // no decode assists: hv decodes
    auto assisted = arch::svm::decode_exit(*v, with_nrip(), 0);
    EXPECT_TRUE(assisted.cr.gpr_valid);
    EXPECT_EQ(assisted.cr.gpr, 3);
    EXPECT_FALSE(arch::svm::decode_exit(*vmcb(ExitCode(0x00)), qemu_tcg(), 0).cr.write);
}

TEST(SvmDecode, ExceptionsMsrAndInvalid)
{
    auto pf = vmcb(ExitCode(0x4e), 0x7, 0xdeadb000);
    auto x = arch::svm::decode_exit(*pf, qemu_tcg(), 0);
    EXPECT_EQ(x.reason, ExitReason::exception);
    EXPECT_EQ(x.exception.vector, 14);
    EXPECT_TRUE(x.exception.has_error);
    EXPECT_EQ(x.exception.error_code, 7u);
    EXPECT_EQ(x.exception.cr2, 0xdeadb000u);
    EXPECT_FALSE(arch::svm::decode_exit(*vmcb(ExitCode(0x41)), qemu_tcg(), 0).exception.has_error);  // #DB
    auto wr = arch::svm::decode_exit(*vmcb(ExitCode::msr, 1), qemu_tcg(), 0xc0000080);
    EXPECT_EQ(wr.reason, ExitReason::msr_write);
    EXPECT_EQ(wr.msr, 0xc0000080u);
    EXPECT_EQ(arch::svm::decode_exit(*vmcb(ExitCode::invalid), qemu_tcg(), 0).reason, ExitReason::invalid_guest_state);
    auto v32 = vmcb(ExitCode::cpuid);
    v32->exit_code = 0xffffffffu;  // QEMU TCG's form
    EXPECT_EQ(arch::svm::decode_exit(*v32, qemu_tcg(), 0).reason, ExitReason::invalid_guest_state);
    EXPECT_EQ(arch::svm::decode_exit(*vmcb(ExitCode::vmrun), qemu_tcg(), 0).reason, ExitReason::unhandled);
    EXPECT_EQ(arch::svm::decode_exit(*vmcb(ExitCode::task_switch), qemu_tcg(), 0).reason, ExitReason::unhandled);
}
