// RDMSR/WRMSR exits. Safe MSRs held in the guest-state area pass through
// (set up in create_vcpu); the rest go through msr_policy; anything it does
// not know is #GP(0), which is what a CPU without that MSR does.
#include "arch/x86_64/cpu.hpp"
#include "hv/domain/domain.hpp"
#include "hv/vcpu/msr_policy.hpp"
#include "hv/vcpu/pvclock.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

// kvm-clock (pvclock.hpp). A write of an address outside RAM is refused
// with #GP, as KVM does not, but a guest gains nothing from a clock it cannot
// read.
bool pvclock_msr(Vcpu& v, bool write, uint32_t m, uint64_t value, uint64_t& out)
{
    Domain& d = *v.domain;
    if (m == pvclock::msr_system_time) {
        if (!write) {
            out = v.pvclock_msr;
            return true;
        }
        if (value & pvclock::system_time_enable) {
            auto info = pvclock::time_info(d.cpuid.tsc_khz * 1000);
            if (!copy_to_guest(d, value & ~1ull, &info, sizeof info).ok()) return false;
        }
        v.pvclock_msr = value;
        return true;
    }
    if (!write) {
        out = 0;
        return true;
    }
    pvclock::WallClock wc{.version = 2, .sec = uint32_t(d.wallclock_ns / 1'000'000'000ull),
                          .nsec = uint32_t(d.wallclock_ns % 1'000'000'000ull)};
    return copy_to_guest(d, value, &wc, sizeof wc).ok();
}

}  // namespace

void handle_msr(Vcpu& v, const VmExit& x)
{
    HwVcpu& hw = *v.hw;
    uint8_t len = x.insn_len ? x.insn_len : 2;  // RDMSR/WRMSR are always 0F 32 / 0F 30
    MsrState st{.vcpu_id = v.id,
                .host_tsc = arch::rdtsc(),
                .tsc_offset = v.tsc_offset,
                .misc_enable = v.misc_enable,
                .efer = hw.read(GuestReg::efer),
                .cr0 = hw.read(GuestReg::cr0),
                .pat = hw.read(GuestReg::pat)};
    bool ok;
    uint32_t m = x.msr;
    bool apic_msr = (m >= 0x800 && m <= 0x8ff) || m == msr_index::apic_base || m == 0x6e0;
    if (m == pvclock::msr_system_time || m == pvclock::msr_wall_clock) {
        uint64_t value = (v.gprs[Gpr::rdx] << 32) | uint32_t(v.gprs[Gpr::rax]), out = 0;
        bool write = x.reason != ExitReason::msr_read;
        ok = pvclock_msr(v, write, m, value, out);
        if (ok && !write) {
            v.gprs[Gpr::rax] = uint32_t(out);
            v.gprs[Gpr::rdx] = out >> 32;
        }
    } else if (apic_msr) {
        arch::SpinGuard g(v.lock);
        uint64_t now = guest_tsc(v);
        if (x.reason == ExitReason::msr_read) {
            auto r = m == msr_index::apic_base ? lib::Result<uint64_t>(v.lapic.apic_base())
                     : m == 0x6e0             ? v.lapic.read_tsc_deadline(now)
                                              : v.lapic.read_msr(m, now);
            ok = r.ok();
            if (ok) {
                v.gprs[Gpr::rax] = uint32_t(r.value());
                v.gprs[Gpr::rdx] = r.value() >> 32;
            }
        } else {
            uint64_t value = (v.gprs[Gpr::rdx] << 32) | uint32_t(v.gprs[Gpr::rax]);
            ok = (m == msr_index::apic_base ? v.lapic.write_apic_base(value, now)
                  : m == 0x6e0             ? v.lapic.write_tsc_deadline(value, now)
                                           : v.lapic.write_msr(m, value, now))
                     .ok();
        }
    } else if (x.reason == ExitReason::msr_read) {
        uint64_t value = 0;
        ok = msr_read(st, x.msr, value);
        if (ok) {
            v.gprs[Gpr::rax] = uint32_t(value);
            v.gprs[Gpr::rdx] = value >> 32;
        }
    } else {
        uint64_t value = (v.gprs[Gpr::rdx] << 32) | uint32_t(v.gprs[Gpr::rax]);
        ok = msr_write(st, x.msr, value);
        if (ok) {
            if (st.tsc_offset != v.tsc_offset) hw.set_tsc_offset(st.tsc_offset);
            if (st.efer != hw.read(GuestReg::efer)) hw.write(GuestReg::efer, st.efer);
            if (st.pat != hw.read(GuestReg::pat)) hw.write(GuestReg::pat, st.pat);
            v.tsc_offset = st.tsc_offset;
            v.misc_enable = st.misc_enable;
        }
    }
    if (!ok) {
        LOG_DEBUG("dom%u vcpu%u: %s of MSR %#x refused: #GP", v.domain->id, v.id,
                  x.reason == ExitReason::msr_read ? "read" : "write", x.msr);
        inject_exception(v, 13, true, 0);
        return;
    }
    hw.write(GuestReg::rip, hw.read(GuestReg::rip) + len);
}

}  // namespace hv
