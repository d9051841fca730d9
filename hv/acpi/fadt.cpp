// Fixed ACPI Description Table (ACPI 6.5 §5.2.9). Revisions differ only in
// length: the ACPI 1.0 table ends after Flags (116 bytes), 2.0 adds the
// reset register and the 64-bit X_ blocks (244), 5.0 the sleep registers
// (268), 6.0 the hypervisor vendor ID (276). Fields past the declared length
// read as zero, i.e. absent.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi::detail {
namespace {

constexpr size_t fadt_v1_length = offsetof(raw::Fadt, flags) + sizeof(uint32_t);

Gas unpack(const raw::Gas& g) { return {g.space_id, g.bit_width, g.bit_offset, g.access_size, g.address}; }

}  // namespace

bool parse_fadt(const Table& t, Info& out)
{
    if (t.length < fadt_v1_length) {
        LOG_WARN("acpi: FACP at %#lx: length %u shorter than the ACPI 1.0 FADT (%zu), ignored", t.phys, t.length,
                 fadt_v1_length);
        return false;
    }
    raw::Fadt f = {};
    __builtin_memcpy(&f, t.data, t.length < sizeof f ? t.length : sizeof f);

    Fadt& o = out.fadt;
    o.present = true;
    o.sci_irq = f.sci_int;
    o.flags = f.flags;
    o.hw_reduced = f.flags & raw::fadt_hw_reduced_acpi;
    o.iapc_boot_arch = f.iapc_boot_arch;  // reserved (zero) in ACPI 1.0
    o.century = f.century;
    o.reset_reg = unpack(f.reset_reg);
    o.reset_value = f.reset_value;
    o.dsdt = f.x_dsdt ? f.x_dsdt : f.dsdt;

    // PM timer (§4.8.3.3): X_PM_TMR_BLK when it names an I/O port, else
    // PM_TMR_BLK (whose length must then be 4). Hardware-reduced platforms
    // have none (§4.1).
    o.pm_timer_port = 0;
    if (!o.hw_reduced) {
        const raw::Gas& x = f.x_pm_tmr_blk;
        if (x.address && x.space_id == raw::gas_system_io && x.address <= 0xffff) {
            o.pm_timer_port = uint32_t(x.address);
        } else if (f.pm_tmr_blk) {
            if (f.pm_tmr_len == 4) o.pm_timer_port = f.pm_tmr_blk;
            else LOG_WARN("acpi: FACP at %#lx: PM_TMR_LEN %u (must be 4), PM timer ignored", t.phys, f.pm_tmr_len);
        }
    }
    o.pm_timer_32bit = o.pm_timer_port && (f.flags & raw::fadt_tmr_val_ext);
    return true;
}

}  // namespace hv::acpi::detail
