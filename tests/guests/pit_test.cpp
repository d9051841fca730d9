// A kernel written for QEMU's -kernel that drives the PC's legacy timer path
// the way small hobby kernels do: remaps the 8259A pair to 0x20/0x28 with
// only IRQ 0 unmasked, programs PIT counter 0 as a 100 Hz rate generator,
// and counts IRQ 0 over 200 ms measured by PIT counter 2 (a 50 ms square
// wave behind port 0x61's gate, polled on its OUT bit). Also: the PIT's
// read-back status and a counter-latch read, the master's ISR as seen in
// the handler, IRR latching a tick while IRQ 0 is masked (ISR empty), that
// tick arriving once unmasked, HLT woken by IRQ 0, and a valid BCD date in
// the CMOS RTC. Its lines are the same wherever it
// passes (QEMU itself, or hv's Multiboot platform through tools/hvrun): the
// tick count is shown only when it is out of range.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

extern "C" {
volatile uint64_t pit_irq0_count;
volatile uint64_t pit_other_count;
volatile uint8_t pit_first_isr = 0xee;
void pit_irq0_stub();
void pit_other_stub();
}

// IRQ 0: counts, records the master's ISR the first time (OCW3 read ISR,
// then back to IRR), and sends a non-specific EOI. Vectors 0x21-0x2f
// (spurious IRQ 7 and 15 included; everything else is masked) are counted
// without an EOI.
asm(R"(
        .text
        .globl  pit_irq0_stub
pit_irq0_stub:
        pushq   %rax
        incq    pit_irq0_count(%rip)
        cmpq    $1, pit_irq0_count(%rip)
        jne     1f
        movb    $0x0b, %al
        outb    %al, $0x20
        inb     $0x20, %al
        movb    %al, pit_first_isr(%rip)
        movb    $0x0a, %al
        outb    %al, $0x20
1:      movb    $0x20, %al
        outb    %al, $0x20
        popq    %rax
        iretq
        .globl  pit_other_stub
pit_other_stub:
        incq    pit_other_count(%rip)
        iretq
)");

namespace {

struct __attribute__((packed)) IdtEntry {
    uint16_t off0, sel;
    uint8_t ist, attr;
    uint16_t off1;
    uint32_t off2, zero;
};

void set_gate(unsigned vector, void (*f)())
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr;
    asm volatile("sidt %0" : "=m"(idtr));
    if ((vector + 1) * sizeof(IdtEntry) - 1 > idtr.limit) return;
    auto a = reinterpret_cast<uint64_t>(f);
    reinterpret_cast<IdtEntry*>(idtr.base)[vector] = {uint16_t(a), 0x08, 0, 0x8e, uint16_t(a >> 16), uint32_t(a >> 32), 0};
}

constexpr uint16_t pic1 = 0x20, pic2 = 0xa0, pit = 0x40, pit_mode = 0x43, port_b = 0x61;
constexpr uint16_t divisor = 11932;  // 1193182 Hz / 11932 = 100.0 Hz

// One span of `count` PIT clocks on counter 2 (mode 0, gate through port
// 0x61, speaker off), polling its OUT. False if OUT never rose.
bool span(uint16_t count)
{
    outb(port_b, uint8_t((inb(port_b) & ~0x02) | 0x01));
    outb(pit_mode, 0xb0);
    outb(pit + 2, uint8_t(count));
    outb(pit + 2, uint8_t(count >> 8));
    for (uint32_t i = 0; i < 20'000'000; ++i)
        if (inb(port_b) & 0x20) return true;
    return false;
}
constexpr uint16_t ms50 = 59659;

// Counter 2 as a free-running 50 ms square wave (mode 3, gate on): waits
// for `n` rises of its OUT. Polling late (each read of port 0x61 may be a
// round trip to a device model) delays the first and the last rise alike,
// so the span between them stays 50 ms times n-1.
bool rises(unsigned n)
{
    bool prev = inb(port_b) & 0x20;
    for (uint32_t i = 0; i < 100'000'000 && n; ++i) {
        bool cur = inb(port_b) & 0x20;
        if (cur && !prev) --n;
        prev = cur;
    }
    return n == 0;
}

uint8_t read_isr()
{
    outb(pic1, 0x0b);
    uint8_t v = inb(pic1);
    outb(pic1, 0x0a);
    return v;
}

}  // namespace

int guest_main(uint32_t)
{
    asm volatile("cli");
    set_gate(0x20, pit_irq0_stub);
    for (unsigned v = 0x21; v < 0x30; ++v) set_gate(v, pit_other_stub);
    // ICW1 (edge, cascade, ICW4), ICW2 (vector base), ICW3 (slave on IR2 /
    // slave identity 2), ICW4 (8086 mode), then the masks.
    outb(pic1, 0x11);
    outb(pic2, 0x11);
    outb(pic1 + 1, 0x20);
    outb(pic2 + 1, 0x28);
    outb(pic1 + 1, 0x04);
    outb(pic2 + 1, 0x02);
    outb(pic1 + 1, 0x01);
    outb(pic2 + 1, 0x01);
    outb(pic1 + 1, 0xfe);
    outb(pic2 + 1, 0xff);
    uint8_t imr1 = inb(pic1 + 1), imr2 = inb(pic2 + 1);
    print("pit_test: PIC remapped to 0x20/0x28, IMR %#x/%#x\n", imr1, imr2);
    check(imr1 == 0xfe && imr2 == 0xff, "IMR read back");

    outb(pit_mode, 0x34);  // counter 0, LSB then MSB, mode 2, binary
    outb(pit, uint8_t(divisor));
    outb(pit, uint8_t(divisor >> 8));
    outb(pit_mode, 0xe2);  // read-back: status of counter 0
    uint8_t status = inb(pit);
    print("pit_test: counter 0 status %#x (LSB then MSB, mode 2, binary)\n", status & 0x3f);
    check((status & 0x3f) == 0x34, "read-back status");
    outb(pit_mode, 0x00);  // counter latch
    uint16_t latched = uint16_t(inb(pit) | inb(pit) << 8);
    bool latch_ok = latched >= 1 && latched <= divisor;
    print("pit_test: counter latch read %s\n", latch_ok ? "within the divisor" : "OUT OF RANGE");
    check(latch_ok, "latched count");

    // The first tick, then 200 ms: 20 ticks at 100 Hz. A slow host may
    // lose some (they coalesce); never more than the span allows.
    asm volatile("sti");
    for (int i = 0; i < 40 && pit_irq0_count == 0; ++i) span(ms50);
    check(pit_irq0_count > 0, "IRQ 0 arrives");
    check(pit_first_isr == 0x01, "ISR in the handler is IRQ 0");
    print("pit_test: ISR in the IRQ 0 handler %#x\n", pit_first_isr);
    outb(port_b, uint8_t((inb(port_b) & ~0x02) | 0x01));
    outb(pit_mode, 0xb6);  // counter 2, LSB then MSB, mode 3
    outb(pit + 2, uint8_t(ms50));
    outb(pit + 2, uint8_t(ms50 >> 8));
    bool spans_ok = rises(1);
    uint64_t t0 = pit_irq0_count;
    spans_ok &= rises(4);
    uint64_t ticks = pit_irq0_count - t0;
    check(spans_ok, "counter 2's OUT rises through port 0x61");
    bool in_range = ticks >= 10 && ticks <= 22;
    if (in_range) print("pit_test: IRQ 0 ticks over 200 ms: 10-22 (100 Hz)\n");
    else print("pit_test: IRQ 0 ticks over 200 ms: %lu, not 10-22\n", ticks);
    check(in_range, "tick count");

    // The idle loop of small kernels: HLT with interrupts on, woken by IRQ 0.
    uint64_t h0 = pit_irq0_count;
    for (int i = 0; i < 50 && pit_irq0_count - h0 < 5; ++i) asm volatile("sti; hlt; cli");
    asm volatile("sti");
    print("pit_test: woken from HLT by IRQ 0 %s\n", pit_irq0_count - h0 >= 5 ? "5 times" : "TOO FEW TIMES");
    check(pit_irq0_count - h0 >= 5, "HLT wakeups by IRQ 0");

    // Masked, a tick is latched in IRR and not served.
    outb(pic1 + 1, 0xff);
    asm volatile("cli");
    span(ms50 / 2);
    outb(pic1, 0x0a);
    uint8_t irr = inb(pic1), isr = read_isr();
    print("pit_test: IRQ 0 masked: IRR %#x ISR %#x\n", irr & 0x01, isr);
    check((irr & 0x01) && isr == 0, "masked tick latched in IRR only");
    uint64_t before = pit_irq0_count;
    outb(pic1 + 1, 0xfe);
    asm volatile("sti");
    for (int i = 0; i < 20 && pit_irq0_count == before; ++i) span(ms50 / 10);
    asm volatile("cli");
    print("pit_test: unmasked, the tick %s\n", pit_irq0_count > before ? "arrives" : "NEVER CAME");
    check(pit_irq0_count > before, "the latched tick after unmasking");

    outb(pic1 + 1, 0xff);
    outb(pit_mode, 0x30);  // counter 0 to mode 0 with no count: stopped

    // The CMOS RTC: a date in BCD (status B as firmware leaves it), read
    // outside an update.
    auto cmos = [](uint8_t i) {
        outb(0x70, i);
        return inb(0x71);
    };
    for (int i = 0; i < 100000 && (cmos(0x0a) & 0x80); ++i) {
    }
    uint8_t yy = cmos(0x09), mm = cmos(0x08), dd = cmos(0x07), cc = cmos(0x32), b = cmos(0x0b);
    auto bcd_ok = [](uint8_t v, unsigned lo, unsigned hi) {
        unsigned d = (v >> 4) * 10u + (v & 0xf);
        return (v & 0xf) < 10 && (v >> 4) < 10 && d >= lo && d <= hi;
    };
    bool date_ok = (b & 0x04) == 0 && cc == 0x20 && bcd_ok(yy, 24, 99) && bcd_ok(mm, 1, 12) && bcd_ok(dd, 1, 31);
    print("pit_test: CMOS RTC date %s\n", date_ok ? "valid, 21st century, BCD" : "INVALID");
    if (!date_ok) print("pit_test: RTC %02x%02x-%02x-%02x status B %#x\n", cc, yy, mm, dd, b);
    check(date_ok, "CMOS RTC date");
    return verdict("pit_test");
}
