// Hostile inputs and a model-based random test.
//  - Every MSR 0x800-0x8ff, read and written with random values (random
//    64-bit, small, single bits, all ones) in x2APIC mode, in xAPIC mode
//    and while disabled, interleaved with random interrupt traffic: each
//    access succeeds or returns the #GP error, nothing crashes (ASan/UBSan).
//  - Random MMIO offsets (including beyond the page and 0xffffffff) and
//    sizes 0-16 with random values: success, not_found or invalid exactly
//    as documented; the APIC stays consistent.
//  - Random IA32_APIC_BASE values: only legal transitions succeed, the
//    invalid state EN=0/EXTD=1 is never reached.
//  - A reference model of IRR/ISR/TMR/TPR checked after every random
//    operation: PPR, the deliverable vector, what acknowledge and EOI
//    return, and the invariant that an acknowledged vector becomes the
//    highest in-service vector.
#include <random>

#include "vlapic_test_util.hpp"

using namespace vt;

namespace {

uint64_t random_value(std::mt19937_64& rng)
{
    switch (rng() % 5) {
    case 0: return rng();
    case 1: return rng() & 0xff;
    case 2: return 1ull << (rng() % 64);
    case 3: return ~0ull;
    default: return rng() & 0xffffffff;
    }
}

void random_traffic(Vlapic& a, std::mt19937_64& rng)
{
    switch (rng() % 6) {
    case 0: a.accept_fixed(uint8_t(rng()), rng() & 1); break;
    case 1: (void)a.acknowledge(); break;
    case 2: (void)a.eoi(); break;
    case 3: a.deliver({.vector = uint8_t(rng()), .mode = DeliveryMode(rng() % 8), .level_triggered = bool(rng() & 1), .assert_level = bool(rng() & 1)}); break;
    case 4: a.raise_lint(unsigned(rng() % 3)); break;
    default: (void)a.take_events(); break;
    }
}

}  // namespace

TEST(VlapicHostile, EveryMsrWithRandomValues)
{
    std::mt19937_64 rng(0x5eed);
    RecordingBus bus;
    for (int round = 0; round < 3; ++round) {
        Config c = config(0x1234);
        c.cmci = round == 1;
        c.tsc_deadline = round != 2;
        c.eoi_suppression = round != 2;
        Vlapic a;
        a.reset(c, &bus);
        if (round != 2) enable_x2apic(a);
        uint64_t now = 1;
        for (int pass = 0; pass < 8; ++pass) {
            for (uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
                now += rng() % 1000;
                auto r = a.read_msr(msr, now);
                if (!r.ok()) {
                    EXPECT_EQ(r.error(), ::lib::Error::invalid);
                }
                // Keep the APIC enabled most of the time so writes reach state.
                uint64_t v = random_value(rng);
                auto w = a.write_msr(msr, v, now);
                if (!w.ok()) {
                    EXPECT_EQ(w.error(), ::lib::Error::invalid);
                }
                if (round == 2) {
                    EXPECT_FALSE(r.ok());  // xAPIC mode: everything #GP
                    EXPECT_FALSE(w.ok());
                }
                random_traffic(a, rng);
                a.advance(now);
                (void)a.next_event();
            }
            // State that must survive anything the guest writes.
            if (round != 2) {
                EXPECT_EQ(rdmsr(a, 0x802, now), 0x1234u);
                EXPECT_EQ(rdmsr(a, 0x80d, now), (0x123u << 16) | (1u << 4));
                EXPECT_EQ(a.mode(), Mode::x2apic);
            }
            EXPECT_EQ(a.tpr() & ~0xffu, 0u);
        }
    }
    // Also the deadline MSR with random values and times.
    Vlapic a;
    a.reset(config(0), &bus);
    enable_xapic(a);
    wr(a, 0x320, 0x40040);
    for (int i = 0; i < 10000; ++i) {
        uint64_t now = rng();
        (void)a.write_tsc_deadline(random_value(rng), now);
        (void)a.read_tsc_deadline(now);
        a.advance(now);
    }
}

TEST(VlapicHostile, RandomMmio)
{
    std::mt19937_64 rng(42);
    RecordingBus bus;
    Vlapic a;
    a.reset(config(5), &bus);
    enable_xapic(a);
    uint64_t now = 0;
    for (int i = 0; i < 200000; ++i) {
        uint32_t offset = (rng() % 8 == 0) ? uint32_t(rng()) : uint32_t(rng() % 0x1010);
        unsigned size = unsigned(rng() % 17);
        bool valid = (size == 1 || size == 2 || size == 4 || size == 8) && offset < 0x1000 && offset + size <= 0x1000;
        now += rng() % 100;
        if (rng() & 1) {
            auto r = a.mmio_read(offset, size, now);
            EXPECT_EQ(r.ok(), valid);
            if (r.ok() && size < 8) {
                EXPECT_EQ(*r >> (size * 8), 0u);
            }
        } else {
            auto w = a.mmio_write(offset, size, random_value(rng), now);
            EXPECT_EQ(w.ok(), valid);
        }
        if (!a.software_enabled() && rng() % 4 == 0) enable_xapic(a);
        random_traffic(a, rng);
        a.advance(now);
    }
    EXPECT_EQ(a.mode(), Mode::xapic);  // MMIO cannot change the mode
    // 32-bit aligned writes of random values to every register offset.
    for (int pass = 0; pass < 50; ++pass)
        for (uint32_t off = 0; off < 0x1000; off += 0x10) {
            EXPECT_TRUE(a.mmio_write(off, 4, uint32_t(rng()), now).ok());
            EXPECT_TRUE(a.mmio_read(off, 4, now).ok());
        }
}

TEST(VlapicHostile, RandomApicBase)
{
    std::mt19937_64 rng(7);
    Vlapic a;
    a.reset(config(1), nullptr);
    for (int i = 0; i < 100000; ++i) {
        uint64_t v;
        switch (rng() % 4) {
        case 0: v = rng(); break;
        case 1: v = default_base | (rng() & (apic_base::en | apic_base::extd)); break;
        case 2: v = (rng() & 0xfffff000ull) | (rng() & 0xc00); break;
        default: v = default_base | (rng() & 0xfff); break;
        }
        Mode before = a.mode();
        uint64_t base_before = a.apic_base();
        auto r = a.write_apic_base(v, 0);
        bool en = v & apic_base::en, extd = v & apic_base::extd;
        bool reserved = (v & 0x2ff) || (v >> 46);
        bool legal = !reserved && !(!en && extd) && !(before == Mode::x2apic && en && !extd) &&
                     !(before == Mode::disabled && en && extd);
        EXPECT_EQ(r.ok(), legal) << std::hex << v;
        if (!r.ok()) {
            EXPECT_EQ(a.mode(), before);
            EXPECT_EQ(a.apic_base(), base_before);
        }
        bool now_en = a.apic_base() & apic_base::en, now_extd = a.apic_base() & apic_base::extd;
        EXPECT_FALSE(!now_en && now_extd);
        EXPECT_EQ(a.mode(), !now_en ? Mode::disabled : now_extd ? Mode::x2apic : Mode::xapic);
        EXPECT_EQ(a.apic_base() & apic_base::bsp, 0u);  // vCPU 1 is not the BSP, whatever is written
    }
}

namespace {

// The reference: plain arrays, the SDM's formulas written out directly.
struct Model {
    bool irr[256] = {}, isr[256] = {}, tmr[256] = {};
    uint8_t tpr = 0;
    int highest(const bool* s) const
    {
        for (int v = 255; v >= 0; --v)
            if (s[v]) return v;
        return -1;
    }
    uint8_t ppr() const
    {
        int i = highest(isr);
        unsigned ic = i < 0 ? 0 : unsigned(i) & 0xf0;
        return (tpr & 0xf0) >= ic ? tpr : uint8_t(ic);
    }
    int deliverable() const
    {
        int v = highest(irr);
        if (v < 0 || (v >> 4) <= (ppr() >> 4)) return -1;
        return v;
    }
};

}  // namespace

TEST(VlapicModel, IrrIsrPprInvariants)
{
    std::mt19937_64 rng(1234);
    RecordingBus bus;
    for (int run = 0; run < 20; ++run) {
        Vlapic a;
        a.reset(config(0), &bus);
        enable_xapic(a);
        Model m;
        bus.eois.clear();
        size_t expected_eois = 0;
        for (int step = 0; step < 5000; ++step) {
            switch (rng() % 5) {
            case 0:
            case 1: {
                uint8_t v = uint8_t(rng());
                bool level = rng() & 1;
                a.accept_fixed(v, level);
                if (v >= 16) {
                    m.irr[v] = true;
                    m.tmr[v] = level;
                }
                break;
            }
            case 2: {
                uint8_t t = uint8_t(rng());
                wr(a, 0x80, t);
                m.tpr = t;
                break;
            }
            case 3: {
                int want = m.deliverable();
                auto got = a.acknowledge();
                ASSERT_EQ(got.ok() ? int(*got) : -1, want);
                if (want >= 0) {
                    m.irr[want] = false;
                    m.isr[want] = true;
                    // An acknowledged vector outranks everything in service.
                    ASSERT_EQ(a.isr().highest(), want);
                }
                break;
            }
            default: {
                int want = m.highest(m.isr);
                auto got = a.eoi();
                ASSERT_EQ(got.ok() ? int(*got) : -1, want);
                if (want >= 0) {
                    m.isr[want] = false;
                    if (m.tmr[want]) ++expected_eois;
                }
                break;
            }
            }
            for (int v = 0; v < 256; ++v) {
                ASSERT_EQ(a.irr().test(uint8_t(v)), m.irr[v]) << v;
                ASSERT_EQ(a.isr().test(uint8_t(v)), m.isr[v]) << v;
                if (m.irr[v]) {
                    ASSERT_EQ(a.tmr().test(uint8_t(v)), m.tmr[v]) << v;
                }
            }
            ASSERT_EQ(a.ppr(), m.ppr());
            ASSERT_EQ(rd(a, 0xa0), m.ppr());
            auto p = a.pending_vector();
            ASSERT_EQ(p.ok() ? int(*p) : -1, m.deliverable());
            // The vectors 0-15 are never pending or in service.
            for (int v = 0; v < 16; ++v) ASSERT_FALSE(a.irr().test(uint8_t(v)) || a.isr().test(uint8_t(v)));
        }
        EXPECT_EQ(bus.eois.size(), expected_eois);
    }
}
