// DMA Remapping Reporting table (Intel VT-d Architecture Specification 4.1
// §8.1): the VT-d remapping units (DRHD, §8.3) and how many device scopes
// each lists. RMRR/ATSR/RHSA/ANDD/SATC/SIDP structures are skipped.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi::detail {
namespace {

// §8.3.1: device scope entries fill the DRHD after its fixed part. Returns
// the number of scopes, or -1 for a malformed list.
int count_scopes(const Table& t, const uint8_t* drhd, uint32_t len)
{
    int n = 0;
    for (uint32_t off = sizeof(raw::Drhd); off < len;) {
        if (len - off < sizeof(raw::DeviceScope)) return -1;
        uint8_t slen = drhd[off + 1];
        if (slen < sizeof(raw::DeviceScope) || slen > len - off) {
            LOG_WARN("acpi: DMAR at %#lx: device scope of length %u at DRHD offset %u invalid", t.phys, slen, off);
            return -1;
        }
        ++n;
        off += slen;
    }
    return n;
}

}  // namespace

bool parse_dmar(const Table& t, Info& out)
{
    if (t.length < sizeof(raw::Dmar)) {
        LOG_WARN("acpi: DMAR at %#lx: length %u too short, ignored", t.phys, t.length);
        return false;
    }
    auto d = lib::load<raw::Dmar>(t.data);
    out.have_dmar = true;
    out.dmar_haw = uint8_t(d.host_address_width + 1);  // §8.1: the field holds N, the width is N+1
    out.dmar_flags = d.flags;
    walk_entries(t, sizeof d, EntryFormat::u16_type_u16_length, [&](uint32_t type, const uint8_t* e, uint32_t len) {
        if (type != raw::dmar_drhd) return true;
        if (!entry_fits(t, type, len, sizeof(raw::Drhd))) return false;
        auto h = lib::load<raw::Drhd>(e);
        int scopes = count_scopes(t, e, len);
        if (scopes < 0) {
            LOG_WARN("acpi: DMAR at %#lx: DRHD at %#lx has a malformed device scope list, ignoring the rest", t.phys,
                     h.register_base);
            return false;
        }
        if (h.register_base == 0 || h.register_base % 4096) {
            LOG_WARN("acpi: DMAR at %#lx: DRHD register base %#lx invalid, skipped", t.phys, h.register_base);
            return true;
        }
        if (out.drhd_count == max_drhd) {
            LOG_WARN("acpi: DMAR at %#lx: more than %zu DRHDs, ignoring the rest", t.phys, max_drhd);
            return false;
        }
        out.drhd[out.drhd_count++] = {h.register_base, h.segment, bool(h.flags & raw::drhd_include_pci_all),
                                      uint16_t(scopes)};
        return true;
    });
    return true;
}

}  // namespace hv::acpi::detail
