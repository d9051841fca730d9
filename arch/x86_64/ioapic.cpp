#include "arch/x86_64/ioapic.hpp"

#include "arch/x86_64/address_space.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "lib/log.hpp"

namespace arch::ioapic {
namespace {

constexpr unsigned max_chips = 8;
constexpr uint32_t reg_ver = 0x01;
constexpr uint32_t reg_redtbl = 0x10;  // + 2 * pin (low dword), + 1 (high dword)
constexpr uint64_t rte_masked = 1ull << 16;
constexpr uint64_t rte_level = 1ull << 15;
constexpr uint64_t rte_active_low = 1ull << 13;

struct Mapped {
    volatile uint32_t* regs;  // IOREGSEL at 0, IOWIN at 0x10
    uint64_t phys;
    uint32_t gsi_base;
    uint32_t pins;
};
Mapped chips[max_chips];
unsigned chip_count;
SpinLock lock;

// ISA IRQ -> GSI and MPS flags (polarity 1:0, trigger 3:2), from the MADT.
struct Override {
    bool set;
    uint32_t gsi;
    uint16_t flags;
};
Override overrides[16];

uint32_t read_reg(Mapped& c, uint32_t reg)
{
    c.regs[0] = reg;
    return c.regs[4];
}
void write_reg(Mapped& c, uint32_t reg, uint32_t v)
{
    c.regs[0] = reg;
    c.regs[4] = v;
}

Mapped* chip_of(uint32_t gsi, uint32_t& pin)
{
    for (unsigned i = 0; i < chip_count; ++i)
        if (gsi >= chips[i].gsi_base && gsi - chips[i].gsi_base < chips[i].pins) {
            pin = gsi - chips[i].gsi_base;
            return &chips[i];
        }
    return nullptr;
}

}  // namespace

lib::Status init(const Chip* list, unsigned count)
{
    for (unsigned i = 0; i < count && chip_count < max_chips; ++i) {
        void* regs = TRY(map_mmio(list[i].phys, 0x20));
        Mapped& c = chips[chip_count++];
        c.regs = static_cast<volatile uint32_t*>(regs);
        c.phys = list[i].phys;
        c.gsi_base = list[i].gsi_base;
        c.pins = ((read_reg(c, reg_ver) >> 16) & 0xff) + 1;
        for (uint32_t pin = 0; pin < c.pins; ++pin) {
            write_reg(c, reg_redtbl + 2 * pin + 1, 0);
            write_reg(c, reg_redtbl + 2 * pin, uint32_t(rte_masked));
        }
        LOG_INFO("ioapic: %#lx, GSIs %u-%u, all masked", c.phys, c.gsi_base, c.gsi_base + c.pins - 1);
    }
    return {};
}

void set_override(uint8_t isa_irq, uint32_t gsi, uint16_t mps_flags)
{
    if (isa_irq < 16) overrides[isa_irq] = {true, gsi, mps_flags};
}

uint32_t gsi_of_isa(uint8_t isa_irq)
{
    if (isa_irq < 16 && overrides[isa_irq].set) return overrides[isa_irq].gsi;
    return isa_irq;
}

Polarity polarity_of(uint32_t gsi)
{
    // ISA interrupts are edge/high; PCI INTx (GSI >= 16) level/low, unless
    // an override names the GSI (MPS flags: 01 high / 11 low, 01 edge / 11 level).
    Polarity p{gsi >= 16, gsi >= 16};
    for (const auto& o : overrides) {
        if (!o.set || o.gsi != gsi) continue;
        uint16_t pol = o.flags & 3, trig = (o.flags >> 2) & 3;
        if (pol == 1) p.active_low = false;
        if (pol == 3) p.active_low = true;
        if (trig == 1) p.level = false;
        if (trig == 3) p.level = true;
    }
    return p;
}

bool gsi_exists(uint32_t gsi)
{
    uint32_t pin;
    return chip_of(gsi, pin) != nullptr;
}

bool overlaps(uint64_t phys, uint64_t size)
{
    for (unsigned i = 0; i < chip_count; ++i)
        if (phys < chips[i].phys + 0x1000 && chips[i].phys < phys + size) return true;
    return false;
}

lib::Status route(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool masked)
{
    uint32_t pin;
    SpinGuard g(lock);
    Mapped* c = chip_of(gsi, pin);
    if (!c) return lib::err(lib::Error::not_found);
    if (apic_id > 0xff) return lib::err(lib::Error::unsupported);  // xAPIC destination field (no remapping yet)
    Polarity p = polarity_of(gsi);
    uint64_t rte = vector | (p.level ? rte_level : 0) | (p.active_low ? rte_active_low : 0) | (masked ? rte_masked : 0);
    write_reg(*c, reg_redtbl + 2 * pin, uint32_t(rte_masked));  // masked while the halves change
    write_reg(*c, reg_redtbl + 2 * pin + 1, apic_id << 24);
    write_reg(*c, reg_redtbl + 2 * pin, uint32_t(rte));
    return {};
}

void mask(uint32_t gsi, bool masked)
{
    uint32_t pin;
    SpinGuard g(lock);
    Mapped* c = chip_of(gsi, pin);
    if (!c) return;
    uint32_t lo = read_reg(*c, reg_redtbl + 2 * pin);
    write_reg(*c, reg_redtbl + 2 * pin, masked ? lo | uint32_t(rte_masked) : lo & ~uint32_t(rte_masked));
}

}  // namespace arch::ioapic
