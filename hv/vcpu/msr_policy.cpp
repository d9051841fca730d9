#include "hv/vcpu/msr_policy.hpp"

namespace hv {
namespace {

// EFER bits a guest may set (SDM Vol. 3A 2.2.1, APM Vol. 2 3.1.7): SCE, LME,
// LMA (hardware-maintained: writes keep the current value), NXE. SVME and the
// rest are refused: nested virtualization is not offered.
constexpr uint64_t efer_sce = 1u << 0, efer_lme = 1u << 8, efer_lma = 1u << 10, efer_nxe = 1u << 11;
constexpr uint64_t efer_writable = efer_sce | efer_lme | efer_lma | efer_nxe;
constexpr uint64_t cr0_pg = 1ull << 31;

bool valid_pat(uint64_t v)
{
    // Every byte a defined memory type: 0, 1, 4, 5, 6 or 7 (SDM 11.12.2).
    for (int i = 0; i < 8; ++i) {
        uint8_t t = uint8_t(v >> (i * 8));
        if (t > 7 || t == 2 || t == 3) return false;
    }
    return true;
}

}  // namespace

bool msr_read(const MsrState& s, uint32_t index, uint64_t& value)
{
    using namespace msr_index;
    switch (index) {
    case tsc: value = s.host_tsc + s.tsc_offset; return true;
    case platform_id:
    case bios_sign_id:
    case mcg_cap:
    case mcg_status: value = 0; return true;
    case feature_control: value = 1; return true;  // locked, VMX and SMX off
    case misc_enable: value = s.misc_enable | 1; return true;  // fast strings
    case pat: value = s.pat; return true;
    case efer: value = s.efer; return true;
    case tsc_aux: value = s.vcpu_id; return true;
    // Linux reads it unguarded on family 0Fh CPUs (QEMU's qemu64 model) to
    // see whether C1E is on: it is not, on a virtual CPU.
    case k8_int_pending_msg: value = 0; return true;
    default: return false;
    }
}

bool msr_write(MsrState& s, uint32_t index, uint64_t value)
{
    using namespace msr_index;
    switch (index) {
    case tsc: s.tsc_offset = value - s.host_tsc; return true;
    case bios_sign_id: return true;  // "load microcode revision" trigger: nothing to do
    case misc_enable: s.misc_enable = value & ~1ull; return true;
    case mcg_status: return value == 0;
    case pat:
        if (!valid_pat(value)) return false;
        s.pat = value;
        return true;
    case efer:
        if (value & ~efer_writable) return false;
        // LME may change only while paging is off (SDM 9.8.5).
        if ((s.cr0 & cr0_pg) && ((s.efer ^ value) & efer_lme)) return false;
        s.efer = (value & ~efer_lma) | (s.efer & efer_lma);
        return true;
    default: return false;
    }
}

}  // namespace hv
