// Finding the RSDP on legacy BIOS systems (ACPI 6.5 §5.2.5.1) and reading it
// from physical memory.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi {
namespace {

constexpr uint64_t ebda_segment_ptr = 0x40e;  // BIOS data area word: EBDA segment
constexpr uint64_t ebda_scan_bytes = 1024;     // the EBDA's first KiB
constexpr uint64_t bios_rom_start = 0xe0000, bios_rom_end = 0x100000;
constexpr uint32_t max_rsdp_length = 4096;  // sanity bound on the 2.0 length field

// A candidate at p: signature and checksum of the first 20 bytes and, for
// revision >= 2, the extended checksum over `length` bytes.
bool valid_rsdp_at(const lib::PhysReader& mem, uint64_t p)
{
    const void* v1 = mem.view(p, raw::rsdp_v1_size);
    if (!v1 || __builtin_memcmp(v1, "RSD PTR ", 8) != 0) return false;
    if (lib::byte_sum(v1, raw::rsdp_v1_size) != 0) return false;
    uint8_t revision = lib::load<uint8_t>(v1, offsetof(raw::Rsdp, revision));
    if (revision < 2) return true;
    const void* v2 = mem.view(p, sizeof(raw::Rsdp));
    if (!v2) return false;
    uint32_t length = lib::load<uint32_t>(v2, offsetof(raw::Rsdp, length));
    if (length < sizeof(raw::Rsdp) || length > max_rsdp_length) return false;
    const void* all = mem.view(p, length);
    return all && lib::byte_sum(all, length) == 0;
}

lib::Result<uint64_t> scan(const lib::PhysReader& mem, uint64_t from, uint64_t to)
{
    for (uint64_t p = lib::align_up(from, 16); p + raw::rsdp_v1_size <= to; p += 16)
        if (valid_rsdp_at(mem, p)) return p;
    return lib::err(lib::Error::not_found);
}

}  // namespace

lib::Result<uint64_t> find_rsdp_bios(const lib::PhysReader& mem)
{
    auto seg = mem.read<uint16_t>(ebda_segment_ptr);
    if (seg && *seg) {
        uint64_t ebda = uint64_t(*seg) << 4;
        // The EBDA lives in conventional memory below the 640 KiB line.
        if (ebda >= 0x500 && ebda < 0xa0000) {
            auto r = scan(mem, ebda, ebda + ebda_scan_bytes);
            if (r) return r;
        }
    }
    auto r = scan(mem, bios_rom_start, bios_rom_end);
    if (!r) LOG_WARN("acpi: no RSDP found in the EBDA or the BIOS area");
    return r;
}

lib::Status parse_acpi_at(const lib::PhysReader& mem, uint64_t rsdp_phys, Info& out)
{
    const void* v1 = mem.view(rsdp_phys, raw::rsdp_v1_size);
    if (!v1) {
        LOG_WARN("acpi: RSDP at %#lx unreadable", rsdp_phys);
        return lib::err(lib::Error::out_of_range);
    }
    uint8_t revision = lib::load<uint8_t>(v1, offsetof(raw::Rsdp, revision));
    if (revision >= 2)
        if (const void* v2 = mem.view(rsdp_phys, sizeof(raw::Rsdp))) return parse_acpi(mem, v2, sizeof(raw::Rsdp), out);
    return parse_acpi(mem, v1, raw::rsdp_v1_size, out);
}

}  // namespace hv::acpi
