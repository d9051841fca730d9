#include "vmm/pci/config_space.hpp"

namespace vmm::pci {
namespace {

constexpr bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

// BAR low bits (6.2.5.1): bit 0 is 1 for I/O; memory BARs carry the type
// (bits 2:1, 00 = 32-bit, 10 = 64-bit) and prefetchable (bit 3). All of them
// are read-only.
constexpr uint32_t bar_io = 0x1, bar_mem64 = 0x4, bar_prefetch = 0x8;

}  // namespace

void ConfigSpace::init(uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
                       uint16_t subsys_vendor, uint16_t subsys_id)
{
    raw_write(reg::vendor_id, 2, vendor);
    raw_write(reg::device_id, 2, device);
    raw_write(reg::revision, 1, revision);
    raw_write(reg::class_prog, 1, class_code & 0xff);
    raw_write(reg::class_sub, 1, (class_code >> 8) & 0xff);
    raw_write(reg::class_base, 1, (class_code >> 16) & 0xff);
    raw_write(reg::header_type, 1, 0x00);  // type 0, single function
    raw_write(reg::subsys_vendor, 2, subsys_vendor);
    raw_write(reg::subsys_id, 2, subsys_id);
    // Bus master and INTx disable are always implemented; I/O and memory
    // enable become writable when a BAR of that kind is declared (6.2.2:
    // unimplemented enables are hardwired 0).
    wmask_[reg::command] = cmd_bus_master;
    wmask_[reg::command + 1] = cmd_intx_disable >> 8;
    // Cache line size is read/write for any device (6.2.4); the interrupt
    // line is scratch storage for the OS.
    wmask_[reg::cache_line] = 0xff;
    wmask_[reg::int_line] = 0xff;
}

lib::Status ConfigSpace::set_bar(unsigned index, BarKind kind, uint64_t bar_size, bool prefetchable)
{
    if (index >= num_bars || kind == BarKind::none || !pow2(bar_size)) return lib::err(lib::Error::invalid);
    if (bars_[index].kind != BarKind::none || bars_[index].upper) return lib::err(lib::Error::exists);
    const unsigned off = reg::bar0 + 4 * index;
    uint32_t type = 0, mask_lo = 0, mask_hi = 0;
    switch (kind) {
    case BarKind::io:
        if (bar_size < 4 || bar_size > 256) return lib::err(lib::Error::invalid);
        type = bar_io;
        mask_lo = uint32_t(~(bar_size - 1)) & ~0x3u;
        wmask_[reg::command] |= cmd_io;
        break;
    case BarKind::mem32:
        if (bar_size < 16 || bar_size > (1ull << 31)) return lib::err(lib::Error::invalid);
        type = prefetchable ? bar_prefetch : 0;
        mask_lo = uint32_t(~(bar_size - 1)) & ~0xfu;
        wmask_[reg::command] |= cmd_memory;
        break;
    case BarKind::mem64:
        if (index + 1 >= num_bars || bars_[index + 1].kind != BarKind::none || bar_size < 16 || bar_size > (1ull << 62))
            return lib::err(lib::Error::invalid);
        type = bar_mem64 | (prefetchable ? bar_prefetch : 0);
        mask_lo = uint32_t(~(bar_size - 1)) & ~0xfu;
        mask_hi = uint32_t(~(bar_size - 1) >> 32);
        wmask_[reg::command] |= cmd_memory;
        bars_[index + 1].upper = true;
        raw_write(off + 4, 4, 0);
        for (unsigned i = 0; i < 4; ++i) wmask_[off + 4 + i] = uint8_t(mask_hi >> (8 * i));
        break;
    case BarKind::none: break;
    }
    bars_[index].kind = kind;
    bars_[index].size = bar_size;
    raw_write(off, 4, type);
    for (unsigned i = 0; i < 4; ++i) wmask_[off + i] = uint8_t(mask_lo >> (8 * i));
    return {};
}

uint64_t ConfigSpace::bar_address(unsigned index) const
{
    if (index >= num_bars) return 0;
    const unsigned off = reg::bar0 + 4 * index;
    switch (bars_[index].kind) {
    case BarKind::io: return raw_read(off, 4) & ~0x3u;
    case BarKind::mem32: return raw_read(off, 4) & ~0xfu;
    case BarKind::mem64: return (raw_read(off, 4) & ~0xfull) | uint64_t(raw_read(off + 4, 4)) << 32;
    case BarKind::none: break;
    }
    return 0;
}

void ConfigSpace::set_interrupt_pin(uint8_t pin) { raw_[reg::int_pin] = pin <= 4 ? pin : 0; }

lib::Result<uint8_t> ConfigSpace::add_capability(const uint8_t* body, uint8_t len, const uint8_t* write_mask)
{
    if (!body || len < 2) return lib::err(lib::Error::invalid);
    // Capabilities live in the device-specific area 0x40..0xff and are dword
    // aligned (6.7: the bottom two bits of every pointer are reserved).
    if (unsigned(next_cap_) + len > size) return lib::err(lib::Error::no_memory);
    const uint8_t at = uint8_t(next_cap_);
    for (unsigned i = 0; i < len; ++i) {
        raw_[at + i] = body[i];
        wmask_[at + i] = write_mask ? write_mask[i] : 0;
    }
    raw_[at + 1] = 0;  // end of list until another one is appended
    wmask_[at] = wmask_[at + 1] = 0;
    if (last_cap_) raw_[last_cap_ + 1] = at;
    else raw_[reg::cap_ptr] = at;
    last_cap_ = at;
    raw_[reg::status] |= status_cap_list;
    next_cap_ = (unsigned(at) + len + 3) & ~3u;
    return at;
}

void ConfigSpace::set_intx_status(bool asserted)
{
    if (asserted) raw_[reg::status] |= status_intx;
    else raw_[reg::status] &= uint8_t(~status_intx);
}

uint32_t ConfigSpace::raw_read(unsigned offset, unsigned n) const
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n && offset + i < size; ++i) v |= uint32_t(raw_[offset + i]) << (8 * i);
    return v;
}

void ConfigSpace::raw_write(unsigned offset, unsigned n, uint32_t value)
{
    for (unsigned i = 0; i < n && offset + i < size; ++i) raw_[offset + i] = uint8_t(value >> (8 * i));
}

static bool access_ok(unsigned offset, unsigned n)
{
    return (n == 1 || n == 2 || n == 4) && (offset & 3) + n <= 4;
}

uint32_t ConfigSpace::read(unsigned offset, unsigned n) const
{
    if (!access_ok(offset, n) || offset >= ecam_size) return n == 1 ? 0xffu : n == 2 ? 0xffffu : 0xffffffffu;
    if (offset >= size) return 0;
    return raw_read(offset, n);
}

void ConfigSpace::write(unsigned offset, unsigned n, uint32_t value)
{
    if (!access_ok(offset, n) || offset >= size) return;
    for (unsigned i = 0; i < n; ++i) {
        const uint8_t m = wmask_[offset + i];
        raw_[offset + i] = uint8_t((raw_[offset + i] & ~m) | (uint8_t(value >> (8 * i)) & m));
    }
}

}  // namespace vmm::pci
