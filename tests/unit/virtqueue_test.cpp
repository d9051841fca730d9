// The split virtqueue engine (vmm/virtio/virtqueue): direct and indirect
// chains as Linux builds them, the used ring's element-then-index order,
// 16-bit index wrap-around, vring_need_event (table-driven, with wrap) and
// both notification-suppression directions with and without EVENT_IDX.
//
// Bad inputs tried (each must fail with an error, leave the queue broken
// with the matching fault, never touch memory outside guest RAM, and leave
// a second queue in the same RAM working): next loops (self, two-cycle),
// next out of range, head >= queue size, a head reused while in flight,
// zero-length buffers, buffers outside RAM and wrapping 2^64, readable after
// writable, avail->idx jumping by more than the queue size, indirect without
// the feature, INDIRECT|NEXT, indirect nesting, indirect tables of length 0,
// 17 and outside RAM, loops and out-of-range next inside an indirect table,
// chains longer than Chain::max_segments, more than 4 GiB in one chain; and
// bad layouts for enable (size 0, 3, 2048, misaligned rings, rings outside
// RAM), push of heads not in flight, unpop of heads not in flight or on a
// broken queue, and a chain changed while given back by unpop.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/virtio_fake.hpp"
#include "vmm/virtio/virtqueue.hpp"

using namespace vmm::virtio;
using virtio_fake::Buf;
using virtio_fake::DriverRing;
using virtio_fake::FakeRam;

namespace {

constexpr uint64_t ram_base = 0x100000;
constexpr uint64_t data = ram_base + 0x40000;  // buffers live from here

struct VqTest : ::testing::Test {
    FakeRam ram{ram_base, 1 << 20};
    DriverRing drv{ram, 8, ram_base + 0x1000};
    DriverRing drv2{ram, 8, ram_base + 0x3000};
    Virtqueue q, q2;
    Chain c;

    void enable(bool event_idx = false, bool indirect = true)
    {
        ASSERT_TRUE(q.enable(ram, drv.layout(), event_idx, indirect).ok());
        ASSERT_TRUE(q2.enable(ram, drv2.layout(), event_idx, indirect).ok());
    }
    void fill(uint64_t gpa, const std::string& s) { std::memcpy(ram.at(gpa), s.data(), s.size()); }
    // The second queue still carries a request end to end.
    void expect_other_queue_works()
    {
        fill(data + 0x8000, "ok");
        drv2.add({{data + 0x8000, 2, false}, {data + 0x9000, 16, true}});
        Chain c2;
        auto r = q2.pop(c2);
        ASSERT_TRUE(r.ok());
        EXPECT_TRUE(*r);
        char buf[2];
        EXPECT_EQ(c2.read(0, buf, 2), 2u);
        EXPECT_EQ(std::string(buf, 2), "ok");
        EXPECT_TRUE(q2.push(c2.head, 0).ok());
        EXPECT_FALSE(q2.broken());
    }
};

}  // namespace

TEST_F(VqTest, EmptyRing)
{
    enable();
    auto r = q.pop(c);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(*r);
    EXPECT_FALSE(q.broken());
    EXPECT_FALSE(q.should_interrupt());  // nothing used
}

TEST_F(VqTest, DirectChainRoundTrip)
{
    enable();
    fill(data, "head");
    fill(data + 0x100, "er-body");
    const uint16_t head = drv.add({{data, 4, false}, {data + 0x100, 7, false}, {data + 0x200, 3, true}, {data + 0x300, 5, true}});
    auto r = q.pop(c);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(*r);
    EXPECT_EQ(c.head, head);
    EXPECT_EQ(c.count, 4u);
    EXPECT_EQ(c.readable, 11u);
    EXPECT_EQ(c.writable, 8u);
    char buf[16] = {};
    EXPECT_EQ(c.read(0, buf, sizeof buf), 11u);
    EXPECT_EQ(std::string(buf, 11), "header-body");
    EXPECT_EQ(c.read(3, buf, 4), 4u);
    EXPECT_EQ(std::string(buf, 4), "der-");
    EXPECT_EQ(c.write(0, "ABCDEFGHIJ", 10), 8u);  // only 8 writable bytes
    EXPECT_EQ(std::string(reinterpret_cast<char*>(ram.at(data + 0x200)), 3), "ABC");
    EXPECT_EQ(std::string(reinterpret_cast<char*>(ram.at(data + 0x300)), 5), "DEFGH");
    EXPECT_EQ(q.in_flight(), 1u);
    ASSERT_TRUE(q.push(c.head, 8).ok());
    EXPECT_EQ(drv.used_idx(), 1u);
    EXPECT_EQ(drv.used_elem(0).id, head);
    EXPECT_EQ(drv.used_elem(0).len, 8u);
    EXPECT_EQ(q.in_flight(), 0u);
    EXPECT_TRUE(q.should_interrupt());
    EXPECT_FALSE(q.should_interrupt());  // already decided for that entry
    EXPECT_FALSE(q.push(c.head, 0).ok());  // not in flight any more
    EXPECT_FALSE(q.broken());             // a device-side mistake, not the guest's
}

TEST_F(VqTest, IndirectChain)
{
    enable();
    const uint64_t table = data + 0x1000;
    // Indirect table as Linux's alloc_indirect_split fills it: 0 -> 1 -> 2.
    auto set = [&](uint64_t t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        ram.put64(t + 16 * i, addr);
        ram.put32(t + 16 * i + 8, len);
        ram.put16(t + 16 * i + 12, flags);
        ram.put16(t + 16 * i + 14, next);
    };
    set(table, 0, data, 16, desc_f_next, 1);
    set(table, 1, data + 0x100, 512, desc_f_next | desc_f_write, 2);
    set(table, 2, data + 0x400, 1, desc_f_write, 0);
    drv.set_desc(0, table, 48, desc_f_indirect | desc_f_write /* ignored */, 0);
    drv.publish(0);
    {
    auto r = q.pop(c);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(c.count, 3u);
    EXPECT_EQ(c.readable, 16u);
    EXPECT_EQ(c.writable, 513u);
    EXPECT_FALSE(c.seg[0].writable);
    EXPECT_TRUE(c.seg[2].writable);

    // Direct descriptors followed by one indirect descriptor (2.7.5.3.2).
    set(table + 0x100, 0, data + 0x800, 64, desc_f_write, 0);
    drv.set_desc(1, data + 0x700, 8, desc_f_next, 2);
    drv.set_desc(2, table + 0x100, 16, desc_f_indirect, 0);
    drv.publish(1);
    }
    auto r = q.pop(c);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(c.head, 1u);
    EXPECT_EQ(c.count, 2u);
    EXPECT_EQ(c.readable, 8u);
    EXPECT_EQ(c.writable, 64u);
    expect_other_queue_works();
}

TEST(NeedEvent, Table)
{
    struct Case {
        uint16_t event, new_idx, old_idx;
        bool want;
    } cases[] = {
        {0, 1, 0, true},            // the first entry crosses event 0
        {0, 0, 0, false},           // nothing new
        {1, 1, 0, false},           // event at 1: not reached until idx becomes 2
        {1, 2, 0, true},
        {5, 10, 6, false},          // event behind old: already signalled
        {6, 10, 6, true},           // event == old: just crossed
        {9, 10, 6, true},           // event == new - 1
        {10, 10, 6, false},         // event == new: not yet
        {0xffff, 0, 0xfffe, true},  // wrap: event 65535 crossed by 65534 -> 0
        {0xfffe, 2, 0xfffd, true},
        {0, 2, 0xfffd, true},
        {2, 2, 0xfffd, false},
        {0xfffc, 2, 0xfffd, false}, // behind old across the wrap
        {0x8000, 0x8001, 0x7fff, true},
        {0x7ffe, 0x8001, 0x7fff, false},
    };
    for (const auto& k : cases)
        EXPECT_EQ(need_event(k.event, k.new_idx, k.old_idx), k.want)
            << "event " << k.event << " new " << k.new_idx << " old " << k.old_idx;
}

TEST_F(VqTest, UsedNotificationSuppressionEventIdx)
{
    enable(true);
    // The driver wants an interrupt once used->idx passes 2 (after 3 used).
    drv.set_used_event(2);
    std::vector<bool> decisions;
    for (int i = 0; i < 4; ++i) {
        drv.add({{data + 0x100 * i, 4, true}});
        ASSERT_TRUE(q.pop(c).value());
        ASSERT_TRUE(q.push(c.head, 4).ok());
        decisions.push_back(q.should_interrupt());
    }
    EXPECT_EQ(decisions, (std::vector<bool>{false, false, true, false}));
    // A batch of two crossing the event in one go also interrupts once.
    drv.set_used_event(5);
    for (int i = 0; i < 2; ++i) {
        drv.add({{data, 4, true}});
        ASSERT_TRUE(q.pop(c).value());
        ASSERT_TRUE(q.push(c.head, 4).ok());
    }
    EXPECT_TRUE(q.should_interrupt());
    // The NO_INTERRUPT flag is not consulted with EVENT_IDX.
    drv.set_avail_flags(avail_f_no_interrupt);
    drv.set_used_event(6);
    drv.add({{data, 4, true}});
    ASSERT_TRUE(q.pop(c).value());
    ASSERT_TRUE(q.push(c.head, 4).ok());
    EXPECT_TRUE(q.should_interrupt());
}

TEST_F(VqTest, UsedNotificationSuppressionFlags)
{
    enable(false);
    drv.add({{data, 4, true}});
    ASSERT_TRUE(q.pop(c).value());
    ASSERT_TRUE(q.push(c.head, 4).ok());
    EXPECT_TRUE(q.should_interrupt());
    drv.set_avail_flags(avail_f_no_interrupt);
    drv.add({{data, 4, true}});
    ASSERT_TRUE(q.pop(c).value());
    ASSERT_TRUE(q.push(c.head, 4).ok());
    EXPECT_FALSE(q.should_interrupt());
    drv.set_avail_flags(0);
    EXPECT_FALSE(q.should_interrupt());  // that entry was already considered
}

TEST_F(VqTest, AvailNotificationSuppressionEventIdx)
{
    enable(true);
    // The driver side: kick iff need_event(avail_event, new, old).
    auto driver_kicks = [&](uint16_t old_idx) { return need_event(drv.avail_event(), drv.avail_idx, old_idx); };
    EXPECT_EQ(drv.avail_event(), 0u);
    drv.add({{data, 4, true}});
    EXPECT_TRUE(driver_kicks(0));
    ASSERT_TRUE(q.pop(c).value());
    EXPECT_EQ(drv.avail_event(), 1u);  // kick me after the next one
    ASSERT_TRUE(q.push(c.head, 0).ok());
    q.disable_notify();
    drv.add({{data, 4, true}});
    ASSERT_TRUE(q.pop(c).value());
    EXPECT_EQ(drv.avail_event(), 1u);  // not advanced while disabled
    ASSERT_TRUE(q.push(c.head, 0).ok());
    drv.add({{data, 4, true}});
    EXPECT_FALSE(driver_kicks(2));     // 2 -> 3 does not cross event 1
    EXPECT_TRUE(q.enable_notify());    // and the device sees it on re-enable
    EXPECT_EQ(drv.avail_event(), 2u);
    ASSERT_TRUE(q.pop(c).value());
    EXPECT_EQ(drv.avail_event(), 3u);
    ASSERT_TRUE(q.push(c.head, 0).ok());
    EXPECT_FALSE(q.enable_notify());   // nothing pending
}

TEST_F(VqTest, AvailNotificationSuppressionFlags)
{
    enable(false);
    EXPECT_EQ(drv.used_flags(), 0u);
    q.disable_notify();
    EXPECT_EQ(drv.used_flags(), used_f_no_notify);
    drv.add({{data, 4, true}});
    EXPECT_TRUE(q.enable_notify());
    EXPECT_EQ(drv.used_flags(), 0u);
}

TEST_F(VqTest, IndexWrapAround)
{
    DriverRing small{ram, 4, ram_base + 0x6000};
    Virtqueue s;
    ASSERT_TRUE(s.enable(ram, small.layout(), true, false).ok());
    unsigned interrupts = 0;
    for (unsigned i = 0; i < 70000; ++i) {
        small.set_used_event(uint16_t(i));  // interrupt after every buffer
        small.add({{data + (i % 4) * 0x10, 4, false}});
        auto r = s.pop(c);
        ASSERT_TRUE(r.ok() && *r) << i;
        ASSERT_TRUE(s.push(c.head, 0).ok());
        interrupts += s.should_interrupt();
    }
    EXPECT_EQ(interrupts, 70000u);
    EXPECT_EQ(s.used_idx(), uint16_t(70000));
    EXPECT_EQ(small.used_idx(), uint16_t(70000));
    EXPECT_FALSE(s.broken());
}

TEST_F(VqTest, EnableRejectsBadLayouts)
{
    auto l = drv.layout();
    for (uint16_t size : {0, 3, 2048}) {
        auto b = l;
        b.size = size;
        EXPECT_FALSE(q.enable(ram, b, false, false).ok()) << size;
    }
    auto b = l;
    b.desc += 8;
    EXPECT_FALSE(q.enable(ram, b, false, false).ok());
    b = l;
    b.avail += 1;
    EXPECT_FALSE(q.enable(ram, b, false, false).ok());
    b = l;
    b.used += 2;
    EXPECT_FALSE(q.enable(ram, b, false, false).ok());
    b = l;
    b.used = ram_base + (1 << 20) - 8;  // runs past RAM
    EXPECT_FALSE(q.enable(ram, b, false, false).ok());
    b = l;
    b.desc = 0;
    EXPECT_FALSE(q.enable(ram, b, false, false).ok());
    EXPECT_FALSE(q.enabled());
    EXPECT_FALSE(q.pop(c).ok());
}

// Hostile chains: (name, setup, expected fault).
namespace {
struct Hostile {
    const char* name;
    void (*setup)(VqTest&);
    Fault fault;
};

void set_entry(FakeRam& ram, uint64_t t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    ram.put64(t + 16 * i, addr);
    ram.put32(t + 16 * i + 8, len);
    ram.put16(t + 16 * i + 12, flags);
    ram.put16(t + 16 * i + 14, next);
}

const Hostile hostile_cases[] = {
    {"self loop", [](VqTest& t) { t.drv.set_desc(0, data, 4, desc_f_next, 0); t.drv.publish(0); }, Fault::loop},
    {"two-cycle", [](VqTest& t) {
         t.drv.set_desc(0, data, 4, desc_f_next, 1);
         t.drv.set_desc(1, data, 4, desc_f_next, 0);
         t.drv.publish(0);
     }, Fault::loop},
    {"chain longer than the queue", [](VqTest& t) {
         for (uint16_t i = 0; i < 8; ++i) t.drv.set_desc(i, data, 4, desc_f_next, uint16_t((i + 1) % 8));
         t.drv.publish(3);
     }, Fault::loop},
    {"next out of range", [](VqTest& t) { t.drv.set_desc(0, data, 4, desc_f_next, 8); t.drv.publish(0); }, Fault::next_range},
    {"head out of range", [](VqTest& t) { t.drv.publish(8); }, Fault::head_range},
    {"head 0xffff", [](VqTest& t) { t.drv.publish(0xffff); }, Fault::head_range},
    {"zero length", [](VqTest& t) { t.drv.set_desc(0, data, 0, 0, 0); t.drv.publish(0); }, Fault::zero_len},
    {"zero length later in chain", [](VqTest& t) {
         t.drv.set_desc(0, data, 4, desc_f_next, 1);
         t.drv.set_desc(1, data, 0, desc_f_write, 0);
         t.drv.publish(0);
     }, Fault::zero_len},
    {"buffer below RAM", [](VqTest& t) { t.drv.set_desc(0, 0x1000, 4, 0, 0); t.drv.publish(0); }, Fault::not_ram},
    {"buffer past RAM", [](VqTest& t) { t.drv.set_desc(0, ram_base + (1 << 20) - 2, 4, 0, 0); t.drv.publish(0); }, Fault::not_ram},
    {"buffer wrapping 2^64", [](VqTest& t) { t.drv.set_desc(0, ~0ull - 1, 16, 0, 0); t.drv.publish(0); }, Fault::not_ram},
    {"readable after writable", [](VqTest& t) {
         t.drv.set_desc(0, data, 4, desc_f_write | desc_f_next, 1);
         t.drv.set_desc(1, data, 4, 0, 0);
         t.drv.publish(0);
     }, Fault::write_then_read},
    {"avail idx jumps past queue size", [](VqTest& t) { t.ram.put16(t.drv.avail + 2, 9); }, Fault::avail_idx},
    {"avail idx goes backwards", [](VqTest& t) { t.ram.put16(t.drv.avail + 2, 0xffff); }, Fault::avail_idx},
    {"indirect and next", [](VqTest& t) {
         set_entry(t.ram, data + 0x1000, 0, data, 4, 0, 0);
         t.drv.set_desc(0, data + 0x1000, 16, desc_f_indirect | desc_f_next, 1);
         t.drv.set_desc(1, data, 4, 0, 0);
         t.drv.publish(0);
     }, Fault::indirect_next},
    {"indirect nested", [](VqTest& t) {
         set_entry(t.ram, data + 0x1000, 0, data + 0x2000, 16, desc_f_indirect, 0);
         set_entry(t.ram, data + 0x2000, 0, data, 4, 0, 0);
         t.drv.set_desc(0, data + 0x1000, 16, desc_f_indirect, 0);
         t.drv.publish(0);
     }, Fault::indirect_nested},
    {"indirect length 0", [](VqTest& t) { t.drv.set_desc(0, data + 0x1000, 0, desc_f_indirect, 0); t.drv.publish(0); }, Fault::indirect_len},
    {"indirect length 17", [](VqTest& t) { t.drv.set_desc(0, data + 0x1000, 17, desc_f_indirect, 0); t.drv.publish(0); }, Fault::indirect_len},
    {"indirect table outside RAM", [](VqTest& t) { t.drv.set_desc(0, ram_base + (1 << 20) - 16, 32, desc_f_indirect, 0); t.drv.publish(0); }, Fault::not_ram},
    {"indirect loop", [](VqTest& t) {
         set_entry(t.ram, data + 0x1000, 0, data, 4, desc_f_next, 1);
         set_entry(t.ram, data + 0x1000, 1, data, 4, desc_f_next, 0);
         t.drv.set_desc(0, data + 0x1000, 32, desc_f_indirect, 0);
         t.drv.publish(0);
     }, Fault::loop},
    {"indirect next out of range", [](VqTest& t) {
         set_entry(t.ram, data + 0x1000, 0, data, 4, desc_f_next, 2);
         t.drv.set_desc(0, data + 0x1000, 32, desc_f_indirect, 0);
         t.drv.publish(0);
     }, Fault::next_range},
    {"indirect entry outside RAM", [](VqTest& t) {
         set_entry(t.ram, data + 0x1000, 0, 0xdead0000, 4, 0, 0);
         t.drv.set_desc(0, data + 0x1000, 16, desc_f_indirect, 0);
         t.drv.publish(0);
     }, Fault::not_ram},
    {"indirect chain longer than max_segments", [](VqTest& t) {
         const unsigned n = Chain::max_segments + 1;
         for (unsigned i = 0; i < n; ++i)
             set_entry(t.ram, data + 0x1000, i, data, 4, i + 1 < n ? desc_f_next : 0, uint16_t(i + 1));
         t.drv.set_desc(0, data + 0x1000, 16 * n, desc_f_indirect, 0);
         t.drv.publish(0);
     }, Fault::too_many_segments},
    {"more than 4 GiB in one chain", [](VqTest& t) {
         // Lengths are checked against the 2^32 total before RAM is.
         t.drv.set_desc(0, data, 0xffffffffu, desc_f_next, 1);
         t.drv.set_desc(1, data, 0xffffffffu, 0, 0);
         t.drv.publish(0);
     }, Fault::not_ram},
};
}  // namespace

TEST_F(VqTest, HostileChainsBreakTheQueueOnly)
{
    for (const Hostile& h : hostile_cases) {
        SCOPED_TRACE(h.name);
        std::fill(ram.mem.begin(), ram.mem.end(), 0);
        drv.restart();
        drv2.restart();
        q.reset();
        q2.reset();
        enable();
        h.setup(*this);
        auto r = q.pop(c);
        EXPECT_FALSE(r.ok());
        EXPECT_TRUE(q.broken());
        EXPECT_EQ(q.fault(), h.fault);
        // Once broken, it stays broken and does nothing.
        EXPECT_FALSE(q.pop(c).ok());
        EXPECT_FALSE(q.push(0, 0).ok());
        EXPECT_EQ(drv.used_idx(), 0u);
        expect_other_queue_works();
        // Reset and re-enable bring it back.
        q.reset();
        EXPECT_FALSE(q.broken());
    }
}

TEST_F(VqTest, TooLongChainByLength)
{
    // With RAM big enough for neither, the 2^32 total still trips first
    // when the first buffer is valid and the second would overflow it.
    enable();
    drv.set_desc(0, data, 0x1000, desc_f_next, 1);
    drv.set_desc(1, data, 0xfffff001u, 0, 0);
    drv.publish(0);
    EXPECT_FALSE(q.pop(c).ok());
    EXPECT_EQ(q.fault(), Fault::too_long);
}

TEST_F(VqTest, IndirectWithoutFeature)
{
    ASSERT_TRUE(q.enable(ram, drv.layout(), false, false).ok());
    set_entry(ram, data + 0x1000, 0, data, 4, 0, 0);
    drv.set_desc(0, data + 0x1000, 16, desc_f_indirect, 0);
    drv.publish(0);
    EXPECT_FALSE(q.pop(c).ok());
    EXPECT_EQ(q.fault(), Fault::indirect_unneg);
}

TEST_F(VqTest, ReusedHeadWhileInFlight)
{
    enable();
    drv.set_desc(0, data, 4, 0, 0);
    drv.publish(0);
    drv.publish(0);
    ASSERT_TRUE(q.pop(c).value());
    EXPECT_FALSE(q.pop(c).ok());
    EXPECT_EQ(q.fault(), Fault::head_in_use);
    expect_other_queue_works();
}

TEST_F(VqTest, DeviceMarksBroken)
{
    enable();
    q.set_broken();
    EXPECT_EQ(q.fault(), Fault::device);
    q.set_broken(Fault::loop);  // the first verdict stays
    EXPECT_EQ(q.fault(), Fault::device);
    EXPECT_FALSE(q.pop(c).ok());
}

// unpop gives chains back in reverse order: they are popped again, checked
// again, and nothing counts them in flight meanwhile; a head not in flight
// cannot be given back.
TEST_F(VqTest, UnpopGivesChainsBack)
{
    enable(true);
    const uint16_t h0 = drv.add({{data, 100, true}});
    const uint16_t h1 = drv.add({{data + 0x1000, 200, true}});
    ASSERT_TRUE(q.pop(c).value());
    EXPECT_EQ(c.head, h0);
    ASSERT_TRUE(q.pop(c).value());
    EXPECT_EQ(c.head, h1);
    EXPECT_FALSE(q.pop(c).value());
    EXPECT_EQ(q.in_flight(), 2u);
    EXPECT_TRUE(q.unpop(h1).ok());
    EXPECT_TRUE(q.unpop(h0).ok());
    EXPECT_EQ(q.in_flight(), 0u);
    EXPECT_EQ(q.last_avail(), 0);
    EXPECT_FALSE(q.unpop(h0).ok());  // not in flight any more
    EXPECT_FALSE(q.broken());
    // The driver adds a third meanwhile; all three come in order.
    const uint16_t h2 = drv.add({{data + 0x2000, 300, true}});
    for (uint16_t want : {h0, h1, h2}) {
        ASSERT_TRUE(q.pop(c).value());
        EXPECT_EQ(c.head, want);
        EXPECT_TRUE(q.push(c.head, 1).ok());
    }
    // A chain changed by the driver while given back is checked again.
    const uint16_t h3 = drv.add({{data + 0x3000, 64, true}});
    ASSERT_TRUE(q.pop(c).value());
    ASSERT_TRUE(q.unpop(h3).ok());
    drv.set_desc(h3, data, 0, desc_f_write, 0);
    EXPECT_FALSE(q.pop(c).ok());
    EXPECT_EQ(q.fault(), Fault::zero_len);
    EXPECT_FALSE(q.unpop(h3).ok());  // a broken queue gives nothing back
    expect_other_queue_works();
}
