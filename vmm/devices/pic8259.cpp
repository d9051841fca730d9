#include "vmm/devices/pic8259.hpp"

namespace vmm::devices {
namespace {

constexpr uint8_t icw1_ic4 = 0x01, icw1_sngl = 0x02, icw1_init = 0x10;
constexpr uint8_t ocw3_select = 0x08, ocw3_poll = 0x04, ocw3_rr = 0x02, ocw3_esmm = 0x40, ocw3_smm = 0x20;

}  // namespace

void Pic8259::refresh_levels()
{
    uint8_t level = level_mask() | cascade_;
    irr_ = uint8_t((irr_ & ~level) | (lines_ & level));
}

void Pic8259::set_line(unsigned irq, bool level)
{
    if (irq > 7) return;
    uint8_t bit = uint8_t(1u << irq);
    bool was = lines_ & bit;
    lines_ = level ? uint8_t(lines_ | bit) : uint8_t(lines_ & ~bit);
    if ((level_mask() | cascade_) & bit) irr_ = level ? uint8_t(irr_ | bit) : uint8_t(irr_ & ~bit);
    else if (level && !was) irr_ |= bit;  // edge: latched until acknowledged
}

void Pic8259::set_cascade(unsigned irq, bool level)
{
    if (irq > 7) return;
    cascade_ |= uint8_t(1u << irq);
    set_line(irq, level);
}

int Pic8259::highest_in_service() const
{
    int best = -1;
    for (unsigned i = 0; i < 8; ++i)
        if ((isr_ & (1u << i)) && (best < 0 || priority(i) < priority(unsigned(best)))) best = int(i);
    return best;
}

int Pic8259::highest_request() const
{
    uint8_t pending = irr_ & ~imr_;
    if (!pending) return -1;
    int best = -1;
    for (unsigned i = 0; i < 8; ++i)
        if ((pending & (1u << i)) && (best < 0 || priority(i) < priority(unsigned(best)))) best = int(i);
    // What is in service blocks requests of its priority and below. In
    // special mask mode a masked level in service blocks nothing; in special
    // fully nested mode the cascade input in service does not block the
    // slave's further (higher) requests.
    uint8_t blocking = isr_;
    if (special_mask_) blocking &= ~imr_;
    if (special_fully_nested()) blocking &= ~cascade_;
    for (unsigned i = 0; i < 8; ++i)
        if ((blocking & (1u << i)) && priority(i) <= priority(unsigned(best))) return -1;
    return best;
}

int Pic8259::acknowledge()
{
    int irq = highest_request();
    if (irq < 0) return -1;
    uint8_t bit = uint8_t(1u << irq);
    // Edge requests are consumed; level ones stay while the line is high.
    if (!((level_mask() | cascade_) & bit)) irr_ &= ~bit;
    if (auto_eoi()) {
        if (rotate_on_aeoi_) lowest_ = unsigned(irq);
    } else {
        isr_ |= bit;
    }
    return irq;
}

void Pic8259::eoi(int irq, bool rotate)
{
    if (irq < 0) irq = highest_in_service();  // non-specific: the highest in service
    if (irq < 0) return;
    isr_ &= uint8_t(~(1u << irq));
    if (rotate) lowest_ = unsigned(irq);
}

void Pic8259::write(unsigned offset, uint8_t value)
{
    if (offset == 0) {
        if (value & icw1_init) {
            // ICW1 (datasheet "Initialization Command Words"): the edge
            // sense is reset (a high edge input must fall and rise again),
            // IMR and ISR cleared, IR7 lowest, special mask off, IRR read
            // selected; without IC4 every ICW4 function is 0.
            icw1_ = value;
            init_step_ = 2;
            imr_ = 0;
            isr_ = 0;
            irr_ = 0;
            refresh_levels();
            lowest_ = 7;
            special_mask_ = false;
            read_isr_ = false;
            poll_ = false;
            rotate_on_aeoi_ = false;
            if (!(value & icw1_ic4)) icw4_ = 0;
            return;
        }
        if (value & ocw3_select) {
            if (value & ocw3_poll) poll_ = true;
            if (value & ocw3_rr) read_isr_ = value & 1;
            if (value & ocw3_esmm) special_mask_ = value & ocw3_smm;
            return;
        }
        // OCW2: R, SL, EOI in bits 7-5; the level in bits 2-0.
        unsigned level = value & 7;
        switch (value >> 5) {
        case 0: rotate_on_aeoi_ = false; return;
        case 1: eoi(-1, false); return;
        case 2: return;  // no operation
        case 3: eoi(int(level), false); return;
        case 4: rotate_on_aeoi_ = true; return;
        case 5: eoi(-1, true); return;
        case 6: lowest_ = level; return;  // set priority
        default: eoi(int(level), true); return;  // 7: rotate on specific EOI
        }
    }
    switch (init_step_) {
    case 2:
        icw2_ = value;
        icw2_seen_ = true;
        init_step_ = (icw1_ & icw1_sngl) ? ((icw1_ & icw1_ic4) ? 4 : 0) : 3;
        return;
    case 3:
        icw3_ = value;
        init_step_ = (icw1_ & icw1_ic4) ? 4 : 0;
        return;
    case 4:
        icw4_ = value & 0x1f;
        init_step_ = 0;
        return;
    default: imr_ = value; return;  // OCW1
    }
}

uint8_t Pic8259::read(unsigned offset)
{
    if (offset != 0) return imr_;
    if (poll_) {
        poll_ = false;
        int irq = acknowledge();
        return irq < 0 ? 0 : uint8_t(0x80 | irq);
    }
    return read_isr_ ? isr_ : irr_;
}

void DualPic::set_irq(unsigned irq, bool level)
{
    if (irq < 8 && irq != 2) master_.set_line(irq, level);
    else if (irq >= 8 && irq < 16) slave_.set_line(irq - 8, level);
    cascade();
}

uint8_t DualPic::acknowledge()
{
    int irq = master_.acknowledge();
    uint8_t v;
    if (irq < 0) {
        v = uint8_t(master_.vector_base() + 7);  // spurious IRQ7: nothing in service
    } else if (irq == 2) {
        int s = slave_.acknowledge();
        v = uint8_t(slave_.vector_base() + (s < 0 ? 7 : s));  // spurious IRQ15: the master keeps IR2 in service
    } else {
        v = uint8_t(master_.vector_base() + irq);
    }
    cascade();
    return v;
}

bool DualPic::port(uint16_t port, bool in, uint8_t& value)
{
    Pic8259* chip = nullptr;
    switch (port) {
    case 0x20:
    case 0x21: chip = &master_; break;
    case 0xa0:
    case 0xa1: chip = &slave_; break;
    case 0x4d0:
    case 0x4d1: {
        Pic8259& c = port == 0x4d0 ? master_ : slave_;
        if (in) value = c.elcr();
        else c.set_elcr(value, port == 0x4d0 ? master_elcr_mask : slave_elcr_mask);
        cascade();
        return true;
    }
    default: return false;
    }
    if (in) value = chip->read(port & 1);
    else chip->write(port & 1, value);
    cascade();
    return true;
}

}  // namespace vmm::devices
