// I/O Virtualization Reporting Structure (AMD IOMMU Specification 48882
// §5.2): the IOMMUs, one IVHD block each (types 10h, 11h, 40h; the same
// IOMMU may be described once per type, the driver picks the newest type
// it supports). IVMD blocks are skipped.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi::detail {

bool parse_ivrs(const Table& t, Info& out)
{
    if (t.length < sizeof(raw::Ivrs)) {
        LOG_WARN("acpi: IVRS at %#lx: length %u too short, ignored", t.phys, t.length);
        return false;
    }
    out.have_ivrs = true;
    walk_entries(t, sizeof(raw::Ivrs), EntryFormat::u8_type_u16_length,
                 [&](uint32_t type, const uint8_t* e, uint32_t len) {
                     size_t need;
                     switch (type) {
                     case raw::ivhd_type_10: need = sizeof(raw::Ivhd); break;
                     case raw::ivhd_type_11:
                     case raw::ivhd_type_40: need = raw::ivhd_11_40_size; break;
                     default: return true;  // IVMD 20h-22h and future block types
                     }
                     if (!entry_fits(t, type, len, need)) return false;
                     auto h = lib::load<raw::Ivhd>(e);
                     if (out.ivhd_count == max_ivhd) {
                         LOG_WARN("acpi: IVRS at %#lx: more than %zu IVHDs, ignoring the rest", t.phys, max_ivhd);
                         return false;
                     }
                     out.ivhd[out.ivhd_count++] = {uint8_t(type), h.device_id, h.base_address, h.segment};
                     return true;
                 });
    return true;
}

}  // namespace hv::acpi::detail
