// VMX decoding on the host: exit qualifications, interruption information,
// event encoding for VM entry, segment access rights, MSR-bitmap positions,
// control adjustment against capability MSRs, CR fixed bits, and the whole
// exit decoder against a fake VMCS that records which fields were read.
// Section and table numbers: SDM Vol. 3C, 2023 edition.
#include <gtest/gtest.h>

#include <cstring>

#include "arch/x86_64/vmx/controls.hpp"
#include "arch/x86_64/vmx/decode.hpp"
#include "arch/x86_64/vmx/exit_reason.hpp"
#include "arch/x86_64/vmx/vmcs_fields.hpp"

using namespace arch::vmx;

namespace {

// A fake set of VMCS exit fields; counts reads so tests can check that the
// decoder only touches the fields an exit defines.
struct FakeFields {
    uint32_t reason_v = 0;
    uint64_t qualification_v = 0;
    uint32_t insn_len_v = 0;
    uint32_t insn_info_v = 0;
    uint32_t intr_info_v = 0;
    uint32_t intr_error_v = 0;
    uint32_t idt_info_v = 0;
    uint64_t gpa_v = 0;
    int reads_insn_len = 0, reads_gpa = 0, reads_qual = 0, reads_idt = 0, reads_intr_error = 0;

    uint32_t reason() { return reason_v; }
    uint64_t qualification() { ++reads_qual; return qualification_v; }
    uint32_t instruction_length() { ++reads_insn_len; return insn_len_v; }
    uint32_t instruction_info() { return insn_info_v; }
    uint32_t interruption_info() { return intr_info_v; }
    uint32_t interruption_error() { ++reads_intr_error; return intr_error_v; }
    uint32_t idt_vectoring_info() { ++reads_idt; return idt_info_v; }
    uint64_t guest_physical() { ++reads_gpa; return gpa_v; }
};
static_assert(ExitFields<FakeFields>);

struct Decoded {
    hv::VmExit exit;
    DecodeNotes notes;
};
Decoded decode(FakeFields& f, const hv::GuestGprs& g = {}, bool ins_outs_info = true)
{
    Decoded d{};
    d.notes = decode_exit(f, g, ins_outs_info, d.exit);
    return d;
}

}  // namespace

// --- VMCS field encodings (Appendix B; width in bits 14:13, Table 25-21) ---

TEST(VmxFields, WidthFromEncoding)
{
    EXPECT_EQ(field_width(uint32_t(Field16::vpid)), FieldWidth::w16);
    EXPECT_EQ(field_width(uint32_t(Field64::ept_pointer)), FieldWidth::w64);
    EXPECT_EQ(field_width(uint32_t(Field32::exit_reason)), FieldWidth::w32);
    EXPECT_EQ(field_width(uint32_t(FieldNat::guest_rip)), FieldWidth::natural);
}

TEST(VmxFields, SegmentFieldsFollowSegRegOrder)
{
    // Appendix B.1.2, B.3.3, B.4.3: ES CS SS DS FS GS LDTR TR, step 2.
    EXPECT_EQ(guest_selector(unsigned(hv::SegReg::cs)), Field16::guest_cs_selector);
    EXPECT_EQ(guest_selector(unsigned(hv::SegReg::ldtr)), Field16::guest_ldtr_selector);
    EXPECT_EQ(guest_limit(unsigned(hv::SegReg::ss)), Field32::guest_ss_limit);
    EXPECT_EQ(guest_access_rights(unsigned(hv::SegReg::gs)), Field32::guest_gs_access_rights);
    EXPECT_EQ(guest_base(unsigned(hv::SegReg::fs)), FieldNat::guest_fs_base);
    EXPECT_EQ(guest_base(unsigned(hv::SegReg::es)), FieldNat::guest_es_base);
}

// --- Exit qualifications (28.2.1) ---

TEST(VmxQualification, IoOutDxAl)
{
    // Table 28-5: size-1 in 2:0, direction 3 (1 = IN), string 4, REP 5,
    // operand encoding 6 (1 = immediate), port 31:16.
    IoQualification q(0x00f40000);
    EXPECT_EQ(q.size, 1);
    EXPECT_FALSE(q.in);
    EXPECT_FALSE(q.string);
    EXPECT_FALSE(q.rep);
    EXPECT_FALSE(q.immediate);
    EXPECT_EQ(q.port, 0xf4);
}

TEST(VmxQualification, IoInEaxImmediateAndRepOutsw)
{
    IoQualification in(0x00600000 | 3 | 8 | 0x40);
    EXPECT_EQ(in.size, 4);
    EXPECT_TRUE(in.in);
    EXPECT_TRUE(in.immediate);
    EXPECT_EQ(in.port, 0x60);
    IoQualification outs(0xcf8 << 16 | 1 | 0x10 | 0x20);
    EXPECT_EQ(outs.size, 2);
    EXPECT_TRUE(outs.string);
    EXPECT_TRUE(outs.rep);
    EXPECT_EQ(outs.port, 0xcf8);
}

TEST(VmxQualification, InsOutsAddressSize)
{
    // Table 28-8: address size in bits 9:7.
    EXPECT_EQ(ins_outs_address_size(0 << 7), 2);
    EXPECT_EQ(ins_outs_address_size(1 << 7), 4);
    EXPECT_EQ(ins_outs_address_size(2 << 7), 8);
    EXPECT_EQ(ins_outs_address_size(3 << 7), 0);  // reserved
    EXPECT_EQ(ins_outs_address_size((1 << 7) | (3 << 15)), 4);  // segment bits ignored
}

TEST(VmxQualification, ControlRegisterAccess)
{
    // Table 28-3: CR number 3:0, access type 5:4, LMSW operand 6, GPR 11:8,
    // LMSW source 31:16.
    CrQualification mov_to_cr4(0x004);  // mov cr4, rax
    EXPECT_EQ(mov_to_cr4.cr, 4);
    EXPECT_EQ(mov_to_cr4.type, CrAccessType::mov_to_cr);
    EXPECT_EQ(mov_to_cr4.gpr, 0);
    CrQualification mov_from_cr3(0x313);  // mov rbx, cr3
    EXPECT_EQ(mov_from_cr3.cr, 3);
    EXPECT_EQ(mov_from_cr3.type, CrAccessType::mov_from_cr);
    EXPECT_EQ(mov_from_cr3.gpr, 3);
    CrQualification mov_cr8_r15(0xf08);
    EXPECT_EQ(mov_cr8_r15.cr, 8);
    EXPECT_EQ(mov_cr8_r15.gpr, 15);
    CrQualification clts(0x20);
    EXPECT_EQ(clts.type, CrAccessType::clts);
    CrQualification lmsw(0x30 | 0x40 | (0x0001u << 16));
    EXPECT_EQ(lmsw.type, CrAccessType::lmsw);
    EXPECT_TRUE(lmsw.lmsw_memory);
    EXPECT_EQ(lmsw.lmsw_source, 1);
}

TEST(VmxQualification, EptViolation)
{
    // Table 28-7: access 2:0, permissions of the translation 5:3, linear
    // address valid 7, NMI unblocking 12.
    EptViolation unmapped_read(0x1 | 0x80);
    EXPECT_TRUE(unmapped_read.read);
    EXPECT_FALSE(unmapped_read.present);
    EXPECT_TRUE(unmapped_read.linear_valid);
    EptViolation write_to_ro(0x2 | 0x8);
    EXPECT_TRUE(write_to_ro.write);
    EXPECT_TRUE(write_to_ro.present);
    EptViolation fetch_nx(0x4 | 0x8 | 0x10);
    EXPECT_TRUE(fetch_nx.fetch);
    EXPECT_TRUE(fetch_nx.present);
    EXPECT_FALSE(fetch_nx.nmi_unblocking);
    EXPECT_TRUE(EptViolation(0x1000).nmi_unblocking);
    EXPECT_TRUE(EptViolation(0x20).present);  // execute-only mapping
}

TEST(VmxQualification, InterruptionInformation)
{
    // Table 25-19: vector 7:0, type 10:8, error valid 11, NMI unblocking 12, valid 31.
    InterruptionInfo pf(0x80000b0e);
    EXPECT_TRUE(pf.valid);
    EXPECT_EQ(pf.vector, 14);
    EXPECT_EQ(pf.type, InterruptionType::hardware_exception);
    EXPECT_TRUE(pf.error_valid);
    InterruptionInfo nmi(0x80000202);
    EXPECT_EQ(nmi.type, InterruptionType::nmi);
    EXPECT_FALSE(nmi.error_valid);
    InterruptionInfo bp(0x80000603 | 0x1000);
    EXPECT_EQ(bp.type, InterruptionType::software_exception);
    EXPECT_TRUE(bp.nmi_unblocking);
    EXPECT_TRUE(is_software_event(bp.type));
    EXPECT_TRUE(is_software_event(InterruptionType::privileged_software_exception));
    EXPECT_FALSE(is_software_event(InterruptionType::hardware_exception));
    EXPECT_FALSE(InterruptionInfo(0x0000020e).valid);
}

// --- Event injection (25.8.3, Table 25-17; checks in 27.2.1.3) ---

TEST(VmxEvent, ExternalInterrupt)
{
    EntryEvent e = encode_event({0x30, hv::EventType::external, false, 0, 0}, true);
    EXPECT_EQ(e.info, 0x80000030u);
    EXPECT_EQ(e.error_code, 0u);
    EXPECT_EQ(e.length, 0u);
}

TEST(VmxEvent, ErrorCodeOnlyForProtectedModeFaultsThatPushOne)
{
    // #GP in protected mode: type 3, deliver-error-code set.
    EntryEvent gp = encode_event({13, hv::EventType::exception, true, 0x18, 0}, true);
    EXPECT_EQ(gp.info, 0x80000b0du);
    EXPECT_EQ(gp.error_code, 0x18u);
    // The same in real mode (unrestricted guest, CR0.PE = 0): the CPU
    // requires the bit clear.
    EntryEvent gp_real = encode_event({13, hv::EventType::exception, true, 0x18, 0}, false);
    EXPECT_EQ(gp_real.info, 0x8000030du);
    EXPECT_EQ(gp_real.error_code, 0u);
    // #UD pushes none, whatever the caller says.
    EntryEvent ud = encode_event({6, hv::EventType::exception, true, 5, 0}, true);
    EXPECT_EQ(ud.info, 0x80000306u);
    // #DF, #TS..#PF and #AC push one (SDM Vol. 3A Table 6-1).
    for (uint8_t v : {8, 10, 11, 12, 13, 14, 17}) EXPECT_TRUE(exception_has_error_code(v)) << int(v);
    for (uint8_t v : {0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20})
        EXPECT_FALSE(exception_has_error_code(v)) << int(v);
}

TEST(VmxEvent, NmiAndSoftwareInterrupt)
{
    EntryEvent nmi = encode_event({0, hv::EventType::nmi, false, 0, 0}, true);
    EXPECT_EQ(nmi.info, 0x80000202u);  // NMI always carries vector 2
    EntryEvent soft = encode_event({0x80, hv::EventType::software_int, false, 0, 2}, true);
    EXPECT_EQ(soft.info, 0x80000480u);
    EXPECT_EQ(soft.length, 2u);
}

TEST(VmxEvent, ReinjectionFromIdtVectoringInfo)
{
    // Table 25-20 -> Table 25-17: bit 12 is undefined in the IDT-vectoring
    // information and reserved in the entry field.
    EntryEvent pf = reinjection(0x80000b0e | 0x1000, 0x2, 3);
    EXPECT_EQ(pf.info, 0x80000b0eu);
    EXPECT_EQ(pf.error_code, 2u);
    EXPECT_EQ(pf.length, 0u);  // hardware exception: no length
    EntryEvent soft = reinjection(0x80000421, 0xdead, 2);
    EXPECT_EQ(soft.info, 0x80000421u);
    EXPECT_EQ(soft.error_code, 0u);  // no error code valid bit
    EXPECT_EQ(soft.length, 2u);
}

// --- Segment access rights (25.4.1, Table 25-2) ---

TEST(VmxAccessRights, PackedToVmxAndBack)
{
    // 64-bit code: type B, S, P, L, G. Packed form keeps descriptor bits
    // 52-55 in 11:8, VMX in 15:12.
    hv::Segment code64{0x08, uint16_t(0xb | hv::seg_attr::s | hv::seg_attr::present | hv::seg_attr::l |
                                      hv::seg_attr::g),
                       0xffffffff, 0, false};
    EXPECT_EQ(to_access_rights(code64), 0xa09bu);
    hv::Segment back = from_access_rights(0x08, 0xa09b, 0xffffffff, 0);
    EXPECT_EQ(back.attrib, code64.attrib);
    EXPECT_FALSE(back.unusable);
    EXPECT_EQ(to_access_rights({0x10, hv::seg_attr::data32, 0xffffffff, 0, false}), 0xc093u);
    EXPECT_EQ(to_access_rights({0, hv::seg_attr::tss32_busy, 0x67, 0x1000, false}), 0x8bu);
}

TEST(VmxAccessRights, Unusable)
{
    EXPECT_EQ(to_access_rights({0, hv::seg_attr::data32, 0, 0, true}), access_rights_unusable);
    hv::Segment s = from_access_rights(0, 0x10000, 0, 0);
    EXPECT_TRUE(s.unusable);
    EXPECT_EQ(s.attrib, 0);
}

TEST(VmxAccessRights, RoundTripAllPackedValues)
{
    for (uint32_t a = 0; a < 0x1000; ++a) {
        hv::Segment s{0x23, uint16_t(a), 0x1234, 0x5678, false};
        uint32_t ar = to_access_rights(s);
        EXPECT_EQ(ar & 0x10f00u, 0u) << a;  // reserved bits 11:8 and unusable stay clear
        EXPECT_EQ(from_access_rights(0x23, ar, 0x1234, 0x5678).attrib, a);
    }
}

// --- MSR bitmap (25.6.9) ---

TEST(VmxMsrBitmap, Positions)
{
    MsrBitmapPos tsc_read = msr_bitmap_pos(0x10, false);
    EXPECT_TRUE(tsc_read.in_range);
    EXPECT_EQ(tsc_read.byte, 2);
    EXPECT_EQ(tsc_read.bit, 0);
    MsrBitmapPos low_last_write = msr_bitmap_pos(0x1fff, true);
    EXPECT_EQ(low_last_write.byte, 2048 + 1023);
    EXPECT_EQ(low_last_write.bit, 7);
    MsrBitmapPos efer_read = msr_bitmap_pos(0xc0000080, false);
    EXPECT_EQ(efer_read.byte, 1024 + 16);
    EXPECT_EQ(efer_read.bit, 0);
    MsrBitmapPos efer_write = msr_bitmap_pos(0xc0000080, true);
    EXPECT_EQ(efer_write.byte, 3072 + 16);
    MsrBitmapPos kgs = msr_bitmap_pos(0xc0000102, true);
    EXPECT_EQ(kgs.byte, 3072 + 32);
    EXPECT_EQ(kgs.bit, 2);
}

TEST(VmxMsrBitmap, OutsideRangesAlwaysExit)
{
    for (uint32_t msr : {0x2000u, 0x40000000u, 0xbfffffffu, 0xc0002000u, 0xc0010000u, 0xffffffffu})
        EXPECT_FALSE(msr_bitmap_pos(msr, false).in_range) << std::hex << msr;
}

TEST(VmxMsrBitmap, EveryInRangeBitIsInsideItsQuarter)
{
    for (uint32_t i = 0; i < 0x2000; ++i) {
        for (bool w : {false, true}) {
            auto lo = msr_bitmap_pos(i, w);
            auto hi = msr_bitmap_pos(0xc0000000 + i, w);
            ASSERT_TRUE(lo.in_range && hi.in_range);
            EXPECT_EQ(lo.byte / 1024, w ? 2 : 0);
            EXPECT_EQ(hi.byte / 1024, w ? 3 : 1);
        }
    }
}

// --- Capability MSRs (Appendix A) ---

TEST(VmxControls, AdjustAgainstCapability)
{
    // A.3.1: bits 31:0 allowed-0 (1 = must be 1), 63:32 allowed-1 (0 = must be 0).
    uint64_t cap = (uint64_t(0x0000ffff) << 32) | 0x16;
    AdjustedControls a = adjust_controls(cap, 0x1, 0x20000 | 0x8000);
    EXPECT_EQ(a.value, 0x8017u);  // must-be-one added, available optional kept, unavailable dropped
    EXPECT_EQ(a.missing, 0u);
    AdjustedControls b = adjust_controls(cap, 0x10001, 0);
    EXPECT_EQ(b.missing, 0x10000u);
    EXPECT_TRUE(control_allowed(cap, 0x8));
    EXPECT_FALSE(control_allowed(cap, 0x10000));
}

TEST(VmxControls, TrueProcCtlsLetCr3ExitingBeZero)
{
    // A.3.2: the TRUE MSR may allow 0 for the default1 controls such as
    // CR3-load/store exiting (bits 15, 16).
    uint64_t cap = (uint64_t(0xfff9fffe) << 32) | 0x04006172;
    uint32_t want = proc::hlt_exiting | proc::use_msr_bitmaps | proc::activate_secondary;
    AdjustedControls a = adjust_controls(cap, want);
    EXPECT_EQ(a.missing, 0u);
    EXPECT_EQ(a.value & want, want);
    EXPECT_EQ(a.value & proc::cr3_load_exiting, 0u);
}

TEST(VmxControls, BasicMsr)
{
    // A.1: revision 30:0, region size 44:32, 32-bit addresses 48, memory
    // type 53:50, INS/OUTS info 54, TRUE controls 55.
    uint64_t v = 0x2bull | (0x1000ull << 32) | (6ull << 50) | (1ull << 54) | (1ull << 55);
    VmxBasic b = VmxBasic::decode(v);
    EXPECT_EQ(b.revision, 0x2bu);
    EXPECT_EQ(b.region_size, 0x1000u);
    EXPECT_EQ(b.memory_type, 6);
    EXPECT_TRUE(b.ins_outs_info);
    EXPECT_TRUE(b.true_controls);
    EXPECT_FALSE(b.phys_32bit);
    EXPECT_EQ(VmxBasic::decode(0x80000004ull).revision, 4u);  // bit 31 is not part of it
}

TEST(VmxControls, Eptp)
{
    // 25.6.11: WB (6) in 2:0, walk length - 1 (3) in 5:3.
    EXPECT_EQ(make_eptp(0x123000), 0x12301eull);
    EXPECT_EQ(make_eptp(0x123fff), 0x12301eull);
}

TEST(VmxControls, CrFixedBits)
{
    // A.7: Bochs reports CR0 FIXED0 0x80000021 (PG, NE, PE), FIXED1 0xffffffff.
    CrFixed host{0x80000021, 0xffffffff};
    EXPECT_EQ(host.apply(0x80000011), 0x80000031u);
    CrFixed guest = guest_cr0_fixed(0x80000021, 0xffffffff, true);
    EXPECT_EQ(guest.fixed0, 0x20u);  // PE and PG exempt under unrestricted guest
    EXPECT_EQ(guest.apply(0x60000010), 0x60000030u);
    EXPECT_EQ(guest.owned(), 0xffffffff00000020ull);
    EXPECT_EQ(guest_cr0_fixed(0x80000021, 0xffffffff, false).fixed0, 0x80000021u);
    // A.8: CR4 FIXED0 VMXE; FIXED1 without bits the CPU lacks.
    CrFixed cr4{0x2000, 0x3727ff};
    EXPECT_EQ(cr4.apply(0x20), 0x2020u);
    EXPECT_EQ(cr4.apply(0x400000), 0x2000u);  // unsupported bit cannot reach the real CR4
    EXPECT_TRUE(cr4.owned() & 0x2000);
    EXPECT_TRUE(cr4.owned() & 0x400000);
    EXPECT_FALSE(cr4.owned() & 0x20);
}

// --- Names (Table C-1, Table 31-1) ---

TEST(VmxNames, EveryDefinedExitReasonHasAName)
{
    for (unsigned r = 0; r <= 69; ++r) {
        bool gap = r == 35 || r == 38 || r == 42 || r == 65;
        EXPECT_EQ(std::strcmp(basic_exit_name(BasicExit(r)), "unknown exit reason") == 0, gap) << r;
    }
    EXPECT_STREQ(basic_exit_name(BasicExit(70)), "unknown exit reason");
    EXPECT_STREQ(insn_error_name(7), "VM entry with invalid control field(s)");
    EXPECT_STREQ(insn_error_name(8), "VM entry with invalid host-state field(s)");
    EXPECT_STREQ(insn_error_name(14), "unknown VM-instruction error");
    EXPECT_STREQ(insn_error_name(0), "unknown VM-instruction error");
}

// --- The exit decoder (28.2) ---

TEST(VmxDecodeExit, Cpuid)
{
    FakeFields f{.reason_v = 10, .insn_len_v = 2};
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::cpuid);
    EXPECT_EQ(d.exit.insn_len, 2);
    EXPECT_EQ(d.exit.raw_reason, 10u);
    EXPECT_EQ(f.reads_gpa, 0);
    EXPECT_EQ(f.reads_qual, 0);
}

TEST(VmxDecodeExit, FixedLengthInstructionExits)
{
    struct Case {
        uint32_t reason;
        hv::ExitReason expect;
        uint32_t len;
    } cases[] = {{12, hv::ExitReason::hlt, 1},       {18, hv::ExitReason::hypercall, 3},
                 {16, hv::ExitReason::rdtsc, 2},     {51, hv::ExitReason::rdtscp, 3},
                 {13, hv::ExitReason::invd, 2},      {54, hv::ExitReason::wbinvd, 2},
                 {55, hv::ExitReason::xsetbv, 3},    {40, hv::ExitReason::pause, 2},
                 {36, hv::ExitReason::monitor_mwait, 3}, {39, hv::ExitReason::monitor_mwait, 3},
                 {14, hv::ExitReason::invlpg, 3}};
    for (const Case& c : cases) {
        FakeFields f{.reason_v = c.reason, .insn_len_v = c.len};
        auto d = decode(f);
        EXPECT_EQ(d.exit.reason, c.expect) << c.reason;
        EXPECT_EQ(d.exit.insn_len, c.len) << c.reason;
    }
}

TEST(VmxDecodeExit, MsrAccessTakesEcx)
{
    hv::GuestGprs g{};
    g[hv::Gpr::rcx] = 0xffffffff'c0000080ull;  // upper half ignored
    FakeFields rd{.reason_v = 31, .insn_len_v = 2};
    auto d = decode(rd, g);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::msr_read);
    EXPECT_EQ(d.exit.msr, 0xc0000080u);
    FakeFields wr{.reason_v = 32, .insn_len_v = 2};
    EXPECT_EQ(decode(wr, g).exit.reason, hv::ExitReason::msr_write);
}

TEST(VmxDecodeExit, IoString)
{
    // rep outsb to port 0xf4 with a 32-bit address size.
    FakeFields f{.reason_v = 30, .qualification_v = 0x00f40030, .insn_len_v = 2, .insn_info_v = 1 << 7};
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::io);
    EXPECT_EQ(d.exit.io.port, 0xf4);
    EXPECT_EQ(d.exit.io.size, 1);
    EXPECT_TRUE(d.exit.io.string);
    EXPECT_TRUE(d.exit.io.rep);
    EXPECT_FALSE(d.exit.io.in);
    EXPECT_EQ(d.exit.io.addr_size, 4);
    EXPECT_EQ(d.exit.insn_len, 2);
    // Without IA32_VMX_BASIC[54] the address size is left to hv.
    FakeFields g = f;
    EXPECT_EQ(decode(g, {}, false).exit.io.addr_size, 0);
}

TEST(VmxDecodeExit, CrAccess)
{
    FakeFields f{.reason_v = 28, .qualification_v = 0x304, .insn_len_v = 3};  // mov cr4, rbx
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::cr_access);
    EXPECT_EQ(d.exit.cr.cr, 4);
    EXPECT_TRUE(d.exit.cr.write);
    EXPECT_TRUE(d.exit.cr.gpr_valid);
    EXPECT_EQ(d.exit.cr.gpr, 3);
    FakeFields rd{.reason_v = 28, .qualification_v = 0x518, .insn_len_v = 4};  // mov rbp, cr8
    d = decode(rd);
    EXPECT_EQ(d.exit.cr.cr, 8);
    EXPECT_FALSE(d.exit.cr.write);
    EXPECT_EQ(d.exit.cr.gpr, 5);
    FakeFields lmsw{.reason_v = 28, .qualification_v = 0x30 | (1u << 16), .insn_len_v = 3};
    d = decode(lmsw);
    EXPECT_EQ(d.exit.cr.cr, 0);
    EXPECT_TRUE(d.exit.cr.write);
    EXPECT_FALSE(d.exit.cr.gpr_valid);  // hv decodes LMSW/CLTS itself
}

TEST(VmxDecodeExit, EptViolationNeverReportsALength)
{
    FakeFields f{.reason_v = 48, .qualification_v = 0x2 | 0x8 | 0x80, .insn_len_v = 3, .gpa_v = 0xfee00030};
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::mmio);
    EXPECT_EQ(d.exit.mmio.gpa, 0xfee00030u);
    EXPECT_TRUE(d.exit.mmio.write);
    EXPECT_FALSE(d.exit.mmio.fetch);
    EXPECT_TRUE(d.exit.mmio.present);
    EXPECT_EQ(d.exit.insn_len, 0);
    EXPECT_EQ(f.reads_insn_len, 0);  // Bochs fills it; hardware does not (TESTING.md)
    EXPECT_FALSE(d.notes.restore_nmi_blocking);
}

TEST(VmxDecodeExit, EptViolationAfterIretRestoresNmiBlocking)
{
    // 28.2.3: bit 12 set and not during event delivery.
    FakeFields f{.reason_v = 48, .qualification_v = 0x1001, .gpa_v = 0x1000};
    EXPECT_TRUE(decode(f).notes.restore_nmi_blocking);
    FakeFields during_delivery{.reason_v = 48, .qualification_v = 0x1001, .idt_info_v = 0x80000030, .gpa_v = 0x1000};
    EXPECT_FALSE(decode(during_delivery).notes.restore_nmi_blocking);
}

TEST(VmxDecodeExit, EptMisconfigurationStopsTheGuest)
{
    FakeFields f{.reason_v = 49, .gpa_v = 0x5000};
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::invalid_guest_state);
    EXPECT_TRUE(d.notes.ept_misconfig);
    EXPECT_EQ(d.notes.gpa, 0x5000u);
}

TEST(VmxDecodeExit, EntryFailure)
{
    // 27.8: bit 31 + basic reason 33 (invalid guest state).
    FakeFields f{.reason_v = 0x80000021, .insn_len_v = 7};
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::invalid_guest_state);
    EXPECT_TRUE(d.notes.entry_failure);
    EXPECT_EQ(d.notes.basic, BasicExit::entry_invalid_guest_state);
    EXPECT_EQ(d.exit.raw_reason, 0x80000021u);
    EXPECT_EQ(d.exit.insn_len, 0);
    FakeFields msr{.reason_v = 0x80000022};
    EXPECT_EQ(decode(msr).notes.basic, BasicExit::entry_msr_loading);
}

TEST(VmxDecodeExit, PageFaultException)
{
    FakeFields f{.reason_v = 0, .qualification_v = 0xdeadb000, .intr_info_v = 0x80000b0e, .intr_error_v = 6};
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::exception);
    EXPECT_EQ(d.exit.exception.vector, 14);
    EXPECT_TRUE(d.exit.exception.has_error);
    EXPECT_EQ(d.exit.exception.error_code, 6u);
    EXPECT_EQ(d.exit.exception.cr2, 0xdeadb000u);
    EXPECT_EQ(d.exit.insn_len, 0);
}

TEST(VmxDecodeExit, SoftwareExceptionHasLengthAndNoErrorRead)
{
    FakeFields f{.reason_v = 0, .insn_len_v = 1, .intr_info_v = 0x80000603};  // int3
    auto d = decode(f);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::exception);
    EXPECT_EQ(d.exit.exception.vector, 3);
    EXPECT_FALSE(d.exit.exception.has_error);
    EXPECT_EQ(d.exit.insn_len, 1);
    EXPECT_EQ(f.reads_intr_error, 0);
}

TEST(VmxDecodeExit, AlignmentCheckAfterIretButNotDoubleFault)
{
    FakeFields ac{.reason_v = 0, .intr_info_v = 0x80000b11 | 0x1000, .intr_error_v = 0};
    EXPECT_TRUE(decode(ac).notes.restore_nmi_blocking);
    FakeFields df{.reason_v = 0, .intr_info_v = 0x80000b08 | 0x1000};
    EXPECT_FALSE(decode(df).notes.restore_nmi_blocking);  // bit 12 undefined for #DF
}

TEST(VmxDecodeExit, HostNmiAndExternalInterrupt)
{
    FakeFields nmi{.reason_v = 0, .intr_info_v = 0x80000202};
    auto d = decode(nmi);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::nmi);
    EXPECT_TRUE(d.notes.host_nmi);
    EXPECT_EQ(d.notes.host_vector, -1);
    FakeFields irq{.reason_v = 1, .intr_info_v = 0x800000ef};
    d = decode(irq);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::external_interrupt);
    EXPECT_EQ(d.notes.host_vector, 0xef);
    FakeFields no_ack{.reason_v = 1, .intr_info_v = 0};
    EXPECT_EQ(decode(no_ack).notes.host_vector, -1);
}

TEST(VmxDecodeExit, WindowsShutdownInitSipiTimer)
{
    struct Case {
        uint32_t reason;
        hv::ExitReason expect;
    } cases[] = {{7, hv::ExitReason::interrupt_window}, {8, hv::ExitReason::nmi_window},
                 {2, hv::ExitReason::shutdown},         {3, hv::ExitReason::init},
                 {52, hv::ExitReason::preemption_timer}};
    for (const Case& c : cases) {
        FakeFields f{.reason_v = c.reason, .insn_len_v = 9};
        auto d = decode(f);
        EXPECT_EQ(d.exit.reason, c.expect) << c.reason;
        EXPECT_EQ(d.exit.insn_len, 0) << c.reason;
    }
    FakeFields sipi{.reason_v = 4, .qualification_v = 0x9a};
    auto d = decode(sipi);
    EXPECT_EQ(d.exit.reason, hv::ExitReason::sipi);
    EXPECT_EQ(d.exit.exception.vector, 0x9a);
}

TEST(VmxDecodeExit, EverythingElseIsUnhandledWithRawReason)
{
    for (uint32_t r : {5u, 6u, 9u, 11u, 15u, 17u, 19u, 20u, 21u, 22u, 23u, 24u, 25u, 26u, 27u, 29u, 37u, 43u, 44u,
                       45u, 46u, 47u, 50u, 53u, 56u, 57u, 58u, 59u, 60u, 61u, 62u, 63u, 64u, 66u, 67u, 68u, 69u,
                       200u, 0xffffu}) {
        FakeFields f{.reason_v = r};
        auto d = decode(f);
        EXPECT_EQ(d.exit.reason, hv::ExitReason::unhandled) << r;
        EXPECT_EQ(d.exit.raw_reason, r);
    }
}

TEST(VmxNames, ControlsThisBackendRequiresHaveNames)
{
    EXPECT_STREQ(control_name(ControlSet::proc2, proc2::unrestricted_guest), "unrestricted guest");
    EXPECT_STREQ(control_name(ControlSet::proc2, proc2::enable_ept), "enable EPT");
    EXPECT_STREQ(control_name(ControlSet::pin, pin::virtual_nmis), "virtual NMIs");
    EXPECT_STREQ(control_name(ControlSet::exit, exit_ctl::acknowledge_interrupt), "acknowledge interrupt on exit");
    EXPECT_STREQ(control_name(ControlSet::entry, entry_ctl::ia32e_mode_guest), "IA-32e mode guest");
    EXPECT_STREQ(control_name(ControlSet::proc, 1u << 0), "unnamed control");
    // Every bit of the requests in vmx.cpp's detect() is named.
    for (uint32_t b : {proc::hlt_exiting, proc::use_tsc_offsetting, proc::cr8_load_exiting, proc::cr8_store_exiting,
                       proc::use_msr_bitmaps, proc::mwait_exiting, proc::monitor_exiting, proc::activate_secondary,
                       proc::use_io_bitmaps, proc::unconditional_io_exiting, proc::interrupt_window_exiting,
                       proc::nmi_window_exiting})
        EXPECT_STRNE(control_name(ControlSet::proc, b), "unnamed control") << b;
    for (uint32_t b : {proc2::enable_vpid, proc2::wbinvd_exiting, proc2::enable_rdtscp, proc2::enable_invpcid,
                       proc2::enable_xsaves, proc2::pause_loop_exiting})
        EXPECT_STRNE(control_name(ControlSet::proc2, b), "unnamed control") << b;
    for (uint32_t b : {exit_ctl::host_address_space_size, exit_ctl::save_efer, exit_ctl::load_efer,
                       exit_ctl::save_pat, exit_ctl::load_pat, exit_ctl::save_debug_controls})
        EXPECT_STRNE(control_name(ControlSet::exit, b), "unnamed control") << b;
    for (uint32_t b : {entry_ctl::load_efer, entry_ctl::load_pat, entry_ctl::load_debug_controls})
        EXPECT_STRNE(control_name(ControlSet::entry, b), "unnamed control") << b;
}
