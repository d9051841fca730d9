// RDMSR/WRMSR exits. Safe MSRs held in the guest-state area pass through
// (set up in create_vcpu); the ones below are emulated; anything else is
// #GP(0), which is what a CPU without that MSR does.
#include "arch/x86_64/cpu.hpp"
#include "hv/domain/domain.hpp"
#include "hv/vcpu/guest_view.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

namespace msr {
constexpr uint32_t tsc = 0x10;
constexpr uint32_t platform_id = 0x17;
constexpr uint32_t apic_base = 0x1b;
constexpr uint32_t feature_control = 0x3a;
constexpr uint32_t bios_sign_id = 0x8b;  // microcode revision
constexpr uint32_t mcg_cap = 0x179;
constexpr uint32_t mcg_status = 0x17a;
constexpr uint32_t misc_enable = 0x1a0;
constexpr uint32_t pat = 0x277;
constexpr uint32_t efer = 0xc0000080;
constexpr uint32_t tsc_aux = 0xc0000103;
}  // namespace msr

// EFER bits a guest may set (AMD APM Vol. 2 3.1.7 / SDM 2.2.1): SCE, LME,
// LMA (hardware-maintained, accepted when consistent), NXE. SVME is never
// shown: nested virtualization is not offered.
constexpr uint64_t efer_writable = (1u << 0) | (1u << 8) | (1u << 10) | (1u << 11);

bool valid_pat(uint64_t v)
{
    // Each byte must be a defined memory type: 0, 1, 4, 5, 6, 7 (SDM 11.12.2).
    for (int i = 0; i < 8; ++i) {
        uint8_t t = uint8_t(v >> (i * 8));
        if (t > 7 || t == 2 || t == 3) return false;
    }
    return true;
}

// Returns false for #GP.
bool read_msr(Vcpu& v, uint32_t index, uint64_t& value)
{
    HwVcpu& hw = *v.hw;
    switch (index) {
    case msr::tsc: value = arch::rdtsc() + v.tsc_offset; return true;
    case msr::platform_id:
    case msr::bios_sign_id:
    case msr::mcg_cap:
    case msr::mcg_status: value = 0; return true;
    case msr::apic_base:
        // The architectural default; the vLAPIC will own this register.
        value = 0xfee00000ull | (1u << 11) | (v.id == 0 ? (1u << 8) : 0);
        return true;
    case msr::feature_control: value = 1; return true;  // locked, VMX off
    case msr::misc_enable: value = v.misc_enable | 1; return true;  // fast strings
    case msr::pat: value = hw.read(GuestReg::pat); return true;
    case msr::efer: value = hw.read(GuestReg::efer); return true;
    case msr::tsc_aux: value = v.id; return true;
    default: return false;
    }
}

bool write_msr(Vcpu& v, uint32_t index, uint64_t value)
{
    HwVcpu& hw = *v.hw;
    switch (index) {
    case msr::tsc:
        v.tsc_offset = value - arch::rdtsc();
        hw.set_tsc_offset(v.tsc_offset);
        return true;
    case msr::bios_sign_id: return true;  // "read microcode revision" trigger: nothing to do
    case msr::apic_base: return value == (0xfee00000ull | (1u << 11) | (v.id == 0 ? (1u << 8) : 0));
    case msr::misc_enable: v.misc_enable = value & ~1ull; return true;
    case msr::mcg_status: return value == 0;
    case msr::pat:
        if (!valid_pat(value)) return false;
        hw.write(GuestReg::pat, value);
        return true;
    case msr::efer: {
        if (value & ~efer_writable) return false;
        uint64_t old = hw.read(GuestReg::efer);
        // LME may only change while paging is off (SDM 9.8.5); LMA is not writable.
        bool paging = hw.read(GuestReg::cr0) & (1u << 31);
        if (paging && ((old ^ value) & (1u << 8))) return false;
        hw.write(GuestReg::efer, (value & ~(1ull << 10)) | (old & (1ull << 10)));
        return true;
    }
    default: return false;
    }
}

}  // namespace

void handle_msr(Vcpu& v, const VmExit& x)
{
    uint8_t len = x.insn_len ? x.insn_len : 2;  // RDMSR/WRMSR are always 0F 32 / 0F 30
    uint32_t index = x.msr;
    bool ok;
    if (x.reason == ExitReason::msr_read) {
        uint64_t value = 0;
        ok = read_msr(v, index, value);
        if (ok) {
            v.gprs[Gpr::rax] = uint32_t(value);
            v.gprs[Gpr::rdx] = value >> 32;
        }
    } else {
        uint64_t value = (v.gprs[Gpr::rdx] << 32) | uint32_t(v.gprs[Gpr::rax]);
        ok = write_msr(v, index, value);
    }
    if (!ok) {
        LOG_DEBUG("dom%u vcpu%u: %s of MSR %#x refused: #GP", v.domain->id, v.id,
                  x.reason == ExitReason::msr_read ? "read" : "write", index);
        inject_exception(v, 13, true, 0);
        return;
    }
    v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + len);
}

}  // namespace hv
