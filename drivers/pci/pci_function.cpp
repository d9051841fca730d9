#include "drivers/pci/pci_function.hpp"

namespace drivers::pci {

size_t scan(PciBus& bus, FunctionId* out, size_t cap)
{
    size_t found = 0;
    bool visit[256] = {};
    visit[0] = true;
    for (unsigned b = 0; b < 256; ++b) {
        if (!visit[b]) continue;
        for (unsigned d = 0; d < 32; ++d) {
            for (unsigned f = 0; f < 8; ++f) {
                uint32_t bdf = make_bdf(b, d, f);
                uint32_t id = bus.read(bdf, reg::vendor, 4);
                if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
                    if (f == 0) break;  // no device: no other functions either
                    continue;
                }
                uint8_t type = uint8_t(bus.read(bdf, reg::header_type, 1));
                uint32_t cls = bus.read(bdf, reg::class_rev, 4) >> 8;
                if (found < cap) out[found] = {bdf, uint16_t(id), uint16_t(id >> 16), cls};
                ++found;
                if ((type & 0x7f) == 1) {  // PCI-PCI bridge: its secondary bus
                    unsigned secondary = bus.read(bdf, 0x19, 1);
                    if (secondary > b) visit[secondary] = true;  // never back to a bus already walked
                }
                if (f == 0 && !(type & 0x80)) break;  // single-function device
            }
        }
    }
    return found;
}

Bar Function::bar(unsigned i)
{
    Bar out;
    if (i > 5) return out;
    uint16_t r = uint16_t(reg::bar0 + 4 * i);
    uint32_t lo = cfg_->read(r, 4);
    out.io = lo & 1;
    out.is64 = !out.io && ((lo >> 1) & 3) == 2;
    if (out.is64 && i == 5) return {};
    uint32_t hi = out.is64 ? cfg_->read(uint16_t(r + 4), 4) : 0;
    uint16_t cmd = uint16_t(cfg_->read(reg::command, 2));
    cfg_->write(reg::command, 2, cmd & ~(command::io | command::memory));
    cfg_->write(r, 4, ~0u);
    uint32_t size_lo = cfg_->read(r, 4);
    cfg_->write(r, 4, lo);
    uint32_t size_hi = ~0u;
    if (out.is64) {
        cfg_->write(uint16_t(r + 4), 4, ~0u);
        size_hi = cfg_->read(uint16_t(r + 4), 4);
        cfg_->write(uint16_t(r + 4), 4, hi);
    }
    cfg_->write(reg::command, 2, cmd);
    if (out.io) {
        out.base = lo & ~3u;
        uint32_t mask = (size_lo & ~3u) | 0xffff0000u;
        out.size = mask ? uint64_t(~mask + 1u) & 0xffffffffu : 0;
    } else {
        out.base = (lo & ~0xfu) | uint64_t(hi) << 32;
        uint64_t mask = (size_lo & ~0xfull) | uint64_t(size_hi) << 32;
        if (!out.is64) mask |= 0xffffffff00000000ull;
        out.size = (size_lo & ~0xfu) ? ~mask + 1 : 0;
    }
    if (!out.size) return {};
    return out;
}

uint8_t Function::find_capability(uint8_t id, uint8_t after)
{
    if (!(cfg_->read(reg::status, 2) & (1u << 4))) return 0;  // no capability list
    uint8_t at = after ? uint8_t(cfg_->read(uint16_t(after + 1), 1)) : uint8_t(cfg_->read(reg::cap_ptr, 1));
    for (unsigned n = 0; n < 48 && at >= 0x40; ++n) {
        at &= 0xfc;
        if (uint8_t(cfg_->read(at, 1)) == id) return at;
        at = uint8_t(cfg_->read(uint16_t(at + 1), 1));
    }
    return 0;
}

void Function::enable(uint16_t bits)
{
    uint16_t cmd = uint16_t(cfg_->read(reg::command, 2));
    cfg_->write(reg::command, 2, cmd | bits);
}

lib::Status Function::enable_msix(DevicePlatform& p, const MsiVector* vectors, unsigned n)
{
    uint8_t c = find_capability(cap::msix);
    if (!c) return lib::Error::unsupported;
    uint16_t control = uint16_t(cfg_->read(uint16_t(c + 2), 2));
    unsigned table_size = (control & 0x7ff) + 1u;
    if (n == 0 || n > table_size) return lib::Error::out_of_range;
    uint32_t table = cfg_->read(uint16_t(c + 4), 4);
    Bar b = bar(table & 7);
    if (!b.size || b.io) return lib::Error::corrupt;
    uint64_t offset = table & ~7u;
    if (offset + 16ull * table_size > b.size) return lib::Error::corrupt;
    uint64_t page = (b.base + offset) & ~0xfffull;
    uint64_t delta = b.base + offset - page;
    uint64_t len = (delta + 16ull * table_size + 0xfff) & ~0xfffull;
    MmioWindow* w = TRY(p.map_mmio(page, len));
    // Function mask on while entries change, then enable.
    cfg_->write(uint16_t(c + 2), 2, (control & ~0x8000u) | 0x4000u);
    enable(command::memory);
    cfg_->write(uint16_t(c + 2), 2, control | 0xc000u);
    for (unsigned i = 0; i < n; ++i) {
        uint64_t e = delta + 16ull * i;
        w->write32(e + 0, uint32_t(vectors[i].address));
        w->write32(e + 4, uint32_t(vectors[i].address >> 32));
        w->write32(e + 8, vectors[i].data);
        w->write32(e + 12, 0);  // unmasked
    }
    enable(command::intx_disable | command::bus_master);
    cfg_->write(uint16_t(c + 2), 2, (control | 0x8000u) & ~0x4000u);
    return {};
}

lib::Status Function::enable_msi(const MsiVector& v)
{
    uint8_t c = find_capability(cap::msi);
    if (!c) return lib::Error::unsupported;
    uint16_t control = uint16_t(cfg_->read(uint16_t(c + 2), 2));
    bool is64 = control & (1u << 7);
    cfg_->write(uint16_t(c + 4), 4, uint32_t(v.address));
    if (is64) {
        cfg_->write(uint16_t(c + 8), 4, uint32_t(v.address >> 32));
        cfg_->write(uint16_t(c + 12), 2, uint16_t(v.data));
    } else {
        cfg_->write(uint16_t(c + 8), 2, uint16_t(v.data));
    }
    // One message (Multiple Message Enable 0), then enable.
    cfg_->write(uint16_t(c + 2), 2, uint16_t((control & ~0x70u) | 1u));
    enable(command::intx_disable | command::bus_master);
    return {};
}

lib::Status Function::enable_interrupts(DevicePlatform& p, const MsiVector* vectors, unsigned n, unsigned* used)
{
    if (find_capability(cap::msix)) {
        TRY(enable_msix(p, vectors, n));
        *used = n;
        return {};
    }
    TRY(enable_msi(vectors[0]));
    *used = 1;
    return {};
}

}  // namespace drivers::pci
