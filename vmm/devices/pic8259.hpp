// The PC's pair of 8259A programmable interrupt controllers (Intel 8259A
// datasheet, order 231468): master at 0x20/0x21, slave at 0xA0/0xA1 on the
// master's IR2, and the edge/level control registers at 0x4D0/0x4D1 (PIIX
// ELCR). What a test kernel programs: the ICW1-ICW4 initialization
// sequence, the mask (OCW1), EOIs and priority rotation (OCW2), IRR/ISR
// reads, poll mode and special mask mode (OCW3), automatic EOI, special
// fully nested mode, edge- and level-triggered inputs, and the spurious
// IR7 answer when an interrupt acknowledge finds nothing.
//
// Not modelled: buffered mode and its master/slave pin (ICW4 bits 2-3 are
// stored and read back as nothing), 8080/8085 mode (ICW4 bit 0 clear
// behaves as 8086 mode), the ADI call-address interval.
//
// The cascade: the slave's INT output drives the master's IR2 as a level
// (IRR bit 2 follows it), so a slave request that stays pending across an
// acknowledge is not lost for want of a new edge.
//
// Portable, host-tested; one thread at a time.
#pragma once

#include <cstdint>

namespace vmm::devices {

class Pic8259 {
public:
    // Input line `irq` (0-7) at `level`. Edge-triggered inputs latch IRR on
    // a low-to-high transition; level-triggered ones (LTIM or the ELCR bit)
    // hold IRR while high.
    void set_line(unsigned irq, bool level);
    // Port offset 0 (the even port: ICW1, OCW2, OCW3; reads IRR/ISR or the
    // poll word) and 1 (the odd port: ICW2-ICW4 in sequence, OCW1; reads
    // IMR).
    void write(unsigned offset, uint8_t value);
    // A read of the even port after an OCW3 poll command is the poll word
    // (bit 7: a request, bits 2-0: its IR) and acknowledges that request,
    // as an INTA would.
    uint8_t read(unsigned offset);

    // The INT output: an unmasked request whose priority is above
    // everything in service (special mask mode: above everything unmasked
    // in service).
    bool intr() const { return highest_request() >= 0; }
    // The interrupt acknowledge: the request now served (IRR -> ISR unless
    // automatic EOI), or -1 if none remains (the spurious case: the caller
    // answers IR7's vector and nothing is set in service).
    int acknowledge();
    uint8_t vector_base() const { return icw2_ & 0xf8; }

    uint8_t irr() const { return irr_; }
    uint8_t isr() const { return isr_; }
    uint8_t imr() const { return imr_; }
    uint8_t elcr() const { return elcr_; }
    void set_elcr(uint8_t v, uint8_t writable_mask) { elcr_ = v & writable_mask; refresh_levels(); }
    bool initialized() const { return init_step_ == 0 && icw2_seen_; }
    bool auto_eoi() const { return icw4_ & 0x02; }
    bool special_fully_nested() const { return icw4_ & 0x10; }
    bool poll_pending() const { return poll_; }
    // The cascade input (master only): IR2 follows the slave's INT.
    void set_cascade(unsigned irq, bool level);

private:
    int highest_request() const;
    int highest_in_service() const;   // the highest-priority ISR bit, -1 if none
    void eoi(int irq, bool rotate);
    void refresh_levels();
    uint8_t level_mask() const { return (icw1_ & 0x08) ? 0xff : elcr_; }
    // Priority of IR n: 0 is highest. lowest_ holds the IR with the lowest
    // priority (7 after initialization).
    unsigned priority(unsigned irq) const { return (irq - lowest_ - 1) & 7; }

    uint8_t irr_ = 0, isr_ = 0, imr_ = 0xff;
    uint8_t lines_ = 0;  // input levels
    uint8_t cascade_ = 0;  // inputs that are the slave's INT (level, whatever the ELCR says)
    uint8_t elcr_ = 0;
    uint8_t icw1_ = 0, icw2_ = 0, icw3_ = 0, icw4_ = 0;
    unsigned init_step_ = 0;  // 0: operational; 2, 3, 4: the ICW the odd port expects next
    bool icw2_seen_ = false;
    unsigned lowest_ = 7;
    bool read_isr_ = false;
    bool poll_ = false;
    bool special_mask_ = false;
    bool rotate_on_aeoi_ = false;
};

// The pair as the PC wires it. Ports: 0x20-0x21, 0xA0-0xA1, 0x4D0-0x4D1.
class DualPic {
public:
    static constexpr uint8_t master_elcr_mask = 0xf8;  // IRQ0-2 are edge-triggered only (PIIX)
    static constexpr uint8_t slave_elcr_mask = 0xde;   // IRQ8 and IRQ13 too

    // ISA IRQ 0-15 at `level` (IRQ2 is the cascade: ignored).
    void set_irq(unsigned irq, bool level);
    // true if `port` is one of the pair's (`value` then holds a read's
    // answer). One byte per access; a wider access reaches the first port
    // only.
    bool port(uint16_t port, bool in, uint8_t& value);

    bool intr() const { return master_.intr(); }
    // INTA: the vector the pair answers (IR7 of the chip that had nothing:
    // the spurious interrupt; for the slave's the master still holds IR2
    // in service), with IRR and ISR updated.
    uint8_t acknowledge();

    Pic8259& master() { return master_; }
    Pic8259& slave() { return slave_; }
    const Pic8259& master() const { return master_; }
    const Pic8259& slave() const { return slave_; }

private:
    void cascade() { master_.set_cascade(2, slave_.intr()); }
    Pic8259 master_, slave_;
};

}  // namespace vmm::devices
