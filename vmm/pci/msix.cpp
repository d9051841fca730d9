#include "vmm/pci/msix.hpp"

namespace vmm::pci {
namespace {

constexpr unsigned entry_size = sizeof(MsixEntry);
constexpr unsigned pba_size = 8;  // one QWORD covers max_vectors (64)
static_assert(Msix::max_vectors <= 64);

// Per byte of a table entry, the bits software may write: the message
// address is DWORD aligned (6.8.2.6: bits 1:0 read 0), upper address and
// data are fully writable, and only bit 0 of vector control (the mask) is
// implemented (6.8.2.9: the rest reserved, read 0).
constexpr uint8_t entry_wmask[entry_size] = {0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                              0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00};

}  // namespace

lib::Status Msix::init(ConfigSpace& cfg, IrqSink& sink, unsigned vectors, uint8_t bar, uint32_t table_offset,
                       uint32_t pba_offset)
{
    if (vectors == 0 || vectors > max_vectors || bar >= ConfigSpace::num_bars) return lib::err(lib::Error::invalid);
    if ((table_offset & 7) || (pba_offset & 7)) return lib::err(lib::Error::invalid);
    const uint64_t t_end = uint64_t(table_offset) + vectors * entry_size, p_end = uint64_t(pba_offset) + pba_size;
    if (table_offset < p_end && pba_offset < t_end) return lib::err(lib::Error::invalid);
    if (cfg.bar_kind(bar) != BarKind::mem32 && cfg.bar_kind(bar) != BarKind::mem64) return lib::err(lib::Error::invalid);
    if (t_end > cfg.bar_size(bar) || p_end > cfg.bar_size(bar)) return lib::err(lib::Error::out_of_range);

    uint8_t body[sizeof(MsixCap)] = {};
    uint8_t mask[sizeof(MsixCap)] = {};
    body[0] = cap_id_msix;
    body[2] = uint8_t(vectors - 1);
    body[3] = uint8_t((vectors - 1) >> 8);
    mask[3] = uint8_t((msix_ctrl_enable | msix_ctrl_function_mask) >> 8);  // table size is read-only
    const uint32_t t = table_offset | bar, p = pba_offset | bar;
    for (unsigned i = 0; i < 4; ++i) {
        body[4 + i] = uint8_t(t >> (8 * i));
        body[8 + i] = uint8_t(p >> (8 * i));
    }
    cap_ = TRY(cfg.add_capability(body, sizeof body, mask));
    cfg_ = &cfg;
    sink_ = &sink;
    vectors_ = vectors;
    bar_ = bar;
    table_off_ = table_offset;
    pba_off_ = pba_offset;
    reset();
    return {};
}

bool Msix::enabled() const { return cfg_ && (cfg_->raw_read(cap_ + 2, 2) & msix_ctrl_enable); }
bool Msix::function_masked() const { return cfg_ && (cfg_->raw_read(cap_ + 2, 2) & msix_ctrl_function_mask); }
bool Msix::vector_masked(unsigned v) const { return v >= vectors_ || (entry_word(v, 3) & 1); }
bool Msix::pending(unsigned v) const { return v < vectors_ && ((pba_ >> v) & 1); }

uint32_t Msix::entry_word(unsigned v, unsigned word) const
{
    const uint8_t* p = &table_[v * entry_size + 4 * word];
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

void Msix::reset()
{
    for (unsigned i = 0; i < sizeof table_; ++i) table_[i] = 0;
    // Every vector starts masked (6.8.2.9: mask bit reset value 1).
    for (unsigned v = 0; v < max_vectors; ++v) table_[v * entry_size + 12] = 1;
    pba_ = 0;
    if (cfg_) cfg_->raw_write(cap_ + 2, 2, cfg_->raw_read(cap_ + 2, 2) & ~(msix_ctrl_enable | msix_ctrl_function_mask));
    was_active_ = false;
}

void Msix::config_written()
{
    const bool active = enabled() && !function_masked();
    if (active && !was_active_) deliver_pending();
    was_active_ = active;
}

bool Msix::contains(uint64_t offset, unsigned size) const
{
    const uint64_t end = offset + size;
    if (end < offset) return false;
    return (offset >= table_off_ && end <= table_off_ + uint64_t(vectors_) * entry_size) ||
           (offset >= pba_off_ && end <= pba_off_ + pba_size);
}

// 6.8.2: software uses aligned DWORD or QWORD accesses; other sizes are
// undefined, so they are served byte by byte with the same masks (harmless).
uint64_t Msix::read(uint64_t offset, unsigned size) const
{
    if (size > 8 || !contains(offset, size)) return 0;
    uint64_t v = 0;
    if (offset >= pba_off_ && offset < pba_off_ + pba_size) {
        for (unsigned i = 0; i < size; ++i) v |= ((pba_ >> (8 * (offset - pba_off_ + i))) & 0xff) << (8 * i);
        return v;
    }
    const uint64_t base = offset - table_off_;
    for (unsigned i = 0; i < size; ++i) v |= uint64_t(table_[base + i]) << (8 * i);
    return v;
}

void Msix::write(uint64_t offset, unsigned size, uint64_t value)
{
    // The PBA is read-only (6.8.2.10).
    if (size > 8 || !contains(offset, size) || offset < table_off_ || offset >= table_off_ + vectors_ * entry_size)
        return;
    const uint64_t base = offset - table_off_;
    const unsigned first = unsigned(base / entry_size), last = unsigned((base + size - 1) / entry_size);
    bool was_masked[2] = {vector_masked(first), vector_masked(last)};
    for (unsigned i = 0; i < size; ++i) {
        const uint64_t at = base + i;
        const uint8_t m = entry_wmask[at % entry_size];
        table_[at] = uint8_t((table_[at] & ~m) | (uint8_t(value >> (8 * i)) & m));
    }
    // Unmasking a vector with its pending bit set sends the message now
    // (6.8.2.9), if the function as a whole is enabled and unmasked.
    if (was_masked[0] && !vector_masked(first) && pending(first)) deliver(first);
    if (last != first && was_masked[1] && !vector_masked(last) && pending(last)) deliver(last);
}

void Msix::deliver(unsigned v)
{
    if (!enabled() || function_masked() || vector_masked(v)) return;
    pba_ &= ~(1ull << v);
    sink_->msi(uint64_t(entry_word(v, 1)) << 32 | entry_word(v, 0), entry_word(v, 2));
}

void Msix::deliver_pending()
{
    for (unsigned v = 0; v < vectors_; ++v)
        if (pending(v) && !vector_masked(v)) deliver(v);
}

void Msix::notify(unsigned v)
{
    if (v >= vectors_ || !enabled()) return;
    if (function_masked() || vector_masked(v)) {
        pba_ |= 1ull << v;
        return;
    }
    deliver(v);
}

}  // namespace vmm::pci
