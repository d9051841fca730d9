// The xAPIC interface: the 4 KiB register page at IA32_APIC_BASE (SDM 10.4.1,
// Table 10-1). Architecturally only 32-bit accesses at 16-byte-aligned
// offsets are defined; "loads and stores of less than 32 bits ... model
// specific" (10.4.1). What this model does with the rest, deterministically:
//  - reads of any size (1, 2, 4, 8) at any offset in the page: each byte
//    comes from bytes 0-3 of its 16-byte slot's register, bytes 4-15 of a
//    slot read 0. A narrow read of a register therefore sees its byte lanes.
//  - writes: only a 32-bit write at a 16-byte-aligned offset reaches the
//    register; every other write is dropped (as KVM and hardware that does
//    not decode partial writes do). No #GP: MMIO has none.
// While the APIC is in x2APIC mode or disabled the page is not decoded
// (10.12.1.2: the xAPIC interface is gone): error not_found, the caller
// treats the access as unclaimed memory.
#include "hv/vlapic/vlapic.hpp"

namespace hv::vlapic {
namespace {

bool valid_access(uint32_t offset, unsigned size)
{
    if (size != 1 && size != 2 && size != 4 && size != 8) return false;
    return offset < mmio_size && size <= mmio_size - offset;
}

}  // namespace

lib::Result<uint64_t> Vlapic::mmio_read(uint32_t offset, unsigned size, uint64_t now)
{
    if (!valid_access(offset, size)) return lib::err(lib::Error::invalid);
    if (mode_ != Mode::xapic) return lib::err(lib::Error::not_found);
    advance(now);
    if (size == 4 && (offset & 0xf) == 0) return uint64_t(uint32_t(read_reg(offset >> 4, false, now).value_or(0)));
    // Byte by byte; a slot's register is read once (a reserved one sets the
    // ESR once), and only if one of its bytes 0-3 is covered.
    uint64_t result = 0;
    unsigned cached_index = ~0u;
    uint32_t cached = 0;
    for (unsigned i = 0; i < size; ++i) {
        uint32_t o = offset + i;
        if ((o & 0xf) >= 4) continue;
        if ((o >> 4) != cached_index) {
            cached_index = o >> 4;
            cached = uint32_t(read_reg(cached_index, false, now).value_or(0));
        }
        result |= uint64_t((cached >> ((o & 3) * 8)) & 0xff) << (i * 8);
    }
    return result;
}

Fault Vlapic::mmio_write(uint32_t offset, unsigned size, uint64_t value, uint64_t now)
{
    if (!valid_access(offset, size)) return lib::err(lib::Error::invalid);
    if (mode_ != Mode::xapic) return lib::err(lib::Error::not_found);
    advance(now);
    if (size != 4 || (offset & 0xf)) return {};  // not decoded: dropped
    // xAPIC rules never fault: the result is always success.
    (void)write_reg(offset >> 4, uint32_t(value), false, now);
    return {};
}

}  // namespace hv::vlapic
