#include "hv/vioapic/vioapic.hpp"

namespace hv::vioapic {
namespace {

// Register indexes behind IOWIN (82093AA 3.2).
constexpr uint8_t reg_id = 0x00, reg_version = 0x01, reg_arbitration = 0x02, reg_table = 0x10;

Message message_of(uint64_t e)
{
    auto mode = static_cast<vlapic::DeliveryMode>((e >> rte::delivery_shift) & 7);
    return {.irq = {.vector = uint8_t(e & rte::vector_mask), .mode = mode, .level_triggered = (e & rte::level) != 0},
            .dest = {.id = uint32_t(e >> rte::dest_shift),
                     .logical = (e & rte::logical) != 0,
                     .x2apic_format = false,
                     .shorthand = vlapic::Shorthand::none}};
}

}  // namespace

void Vioapic::reset(uint8_t id)
{
    id_ = id & 0xf;
    select_ = 0;
    lines_ = 0;
    for (auto& e : rte_) e = rte::masked;
}

uint32_t Vioapic::mmio_read(uint32_t offset) const
{
    if (offset == 0x00) return select_;
    if (offset != 0x10) return 0;
    switch (select_) {
    case reg_id: return uint32_t(id_) << 24;
    case reg_version: return (uint32_t(pins - 1) << 16) | version;
    case reg_arbitration: return uint32_t(id_) << 24;
    default: break;
    }
    if (select_ >= reg_table && select_ < reg_table + 2 * pins) {
        uint64_t e = rte_[(select_ - reg_table) / 2];
        return (select_ & 1) ? uint32_t(e >> 32) : uint32_t(e);
    }
    return 0;
}

void Vioapic::mmio_write(uint32_t offset, uint32_t value, Outbox& out)
{
    switch (offset) {
    case 0x00: select_ = uint8_t(value); return;
    case 0x10: write_register(select_, value, out); return;
    case 0x40: eoi(uint8_t(value), out); return;
    default: return;
    }
}

void Vioapic::write_register(uint8_t index, uint32_t value, Outbox& out)
{
    if (index == reg_id) {
        id_ = (value >> 24) & 0xf;
        return;
    }
    if (index < reg_table || index >= reg_table + 2 * pins) return;  // version, arbitration: read-only
    unsigned pin = (index - reg_table) / 2;
    uint64_t& e = rte_[pin];
    uint64_t v = (index & 1) ? (uint64_t(value) << 32) | (e & 0xffffffffull) : (e & ~0xffffffffull) | value;
    e = (v & rte::writable) | (e & ~rte::writable);
    // Switching to edge drops a pending Remote IRR (it only means something
    // for level entries); unmasking a level entry whose line is up sends.
    if (!(e & rte::level)) e &= ~rte::remote_irr;
    try_send(pin, out);
}

void Vioapic::try_send(unsigned pin, Outbox& out)
{
    uint64_t& e = rte_[pin];
    if ((e & rte::masked) || !line(pin)) return;
    if (e & rte::level) {
        if (e & rte::remote_irr) return;
        e |= rte::remote_irr;
    }
    out.push(message_of(e));
}

bool Vioapic::set_line(unsigned pin, bool asserted, Outbox& out)
{
    if (pin >= pins) return false;
    bool was = line(pin);
    if (asserted)
        lines_ |= 1u << pin;
    else
        lines_ &= ~(1u << pin);
    uint64_t e = rte_[pin];
    // Edge entries fire on the rising edge only; level ones whenever the
    // line is up and the previous interrupt was EOIed. A masked edge is lost,
    // as on the chip.
    if (asserted && ((e & rte::level) || !was)) try_send(pin, out);
    return true;
}

void Vioapic::eoi(uint8_t vector, Outbox& out)
{
    for (unsigned pin = 0; pin < pins; ++pin) {
        uint64_t& e = rte_[pin];
        if ((e & rte::vector_mask) != vector || !(e & rte::remote_irr)) continue;
        e &= ~rte::remote_irr;
        if (e & rte::level) try_send(pin, out);
    }
}

bool decode_msi(uint64_t address, uint32_t data, Message& out)
{
    if ((address >> 20) != 0xfee) return false;
    auto mode = static_cast<vlapic::DeliveryMode>((data >> 8) & 7);
    if (mode == vlapic::DeliveryMode::reserved3 || mode == vlapic::DeliveryMode::smi) return false;
    out = {.irq = {.vector = uint8_t(data),
                   .mode = mode,
                   .level_triggered = ((data >> 15) & 1) != 0},
           .dest = {.id = uint32_t((address >> 12) & 0xff),
                    .logical = ((address >> 2) & 1) != 0,
                    .x2apic_format = false,
                    .shorthand = vlapic::Shorthand::none}};
    return true;
}

}  // namespace hv::vioapic
