// hv/obj CapTable and KObject: handles, rights, references.
//
// Bad inputs tried (each must fail with the named error and change nothing,
// references included):
//   handles: 0; 0xffffffff; generation 0 with every valid index; index ==
//   capacity, index 0xffff, index beyond capacity with a live generation;
//   every wrong generation of a live slot; a handle of a removed slot, before
//   and after the slot is reused; a handle from another table; a million
//   random 32-bit values (the slot array is exactly `capacity` long, so ASan
//   catches a read outside it) -> not_found.
//   insert: null object, type none, rights with bits outside rights_all
//   (0x80, 0x80000000), an object with no references, one with UINT32_MAX
//   -> invalid; a full table -> no_memory.
//   lookup: every wrong type -> invalid; every `need` with a right the
//   handle lacks (all 128 combinations, and unknown bits) -> denied.
//   duplicate: without right_dup, subset larger than held, unknown bits
//   -> denied; full table -> no_memory.
//   transfer: to itself -> invalid; without right_transfer, larger subset
//   -> denied; destination full or uninitialised -> no_memory.
//   init: null slots -> invalid; count 0 and 65536 -> out_of_range; while
//   capabilities are stored -> busy. Calls on a table never initialised.
// Also: the generation wrap after 65535 reuses of a slot, FIFO reuse, a full
// 65535-slot table, and a model-based random test over two tables.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "hv/obj/cap_table.hpp"

using namespace hv::obj;
using lib::Error;

namespace {

struct Obj : KObject {
    explicit Obj(ObjType t = ObjType::domain) : KObject(t) {}
    int payload = 0;
};

constexpr ObjType all_types[] = {ObjType::domain, ObjType::vcpu,   ObjType::thread, ObjType::evtchn,
                                 ObjType::region, ObjType::device, ObjType::control};

// A table over a heap array of exactly `count` slots.
struct Table {
    std::vector<CapSlot> slots;
    CapTable t;
    explicit Table(uint32_t count) : slots(count)
    {
        EXPECT_TRUE(t.init(slots.data(), count).ok());
    }
};

// remove() and drop the reference it hands back (not the last one here).
void drop(CapTable& t, Handle h)
{
    auto r = t.remove(h);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE((*r)->release());
}

}  // namespace

constinit CapSlot g_slots[4];
constinit CapTable g_table;

TEST(CapTable, ConstinitTableWorksAfterInit)
{
    EXPECT_EQ(g_table.capacity(), 0u);
    ASSERT_TRUE(g_table.init(g_slots, 4).ok());
    Obj o;
    auto h = g_table.insert(&o, right_read);
    ASSERT_TRUE(h.ok());
    auto r = g_table.remove(*h);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE((*r)->release());
    EXPECT_EQ(o.ref_count(), 1u);
}

TEST(CapTable, InitErrors)
{
    std::vector<CapSlot> s(max_cap_slots);
    CapTable t;
    EXPECT_EQ(t.init(nullptr, 4).error(), Error::invalid);
    EXPECT_EQ(t.init(s.data(), 0).error(), Error::out_of_range);
    EXPECT_EQ(t.init(s.data(), max_cap_slots + 1).error(), Error::out_of_range);
    EXPECT_EQ(t.capacity(), 0u);
    ASSERT_TRUE(t.init(s.data(), max_cap_slots).ok());
    EXPECT_EQ(t.capacity(), max_cap_slots);
    EXPECT_EQ(t.used(), 0u);

    Obj o;
    Handle h = t.insert(&o, rights_all).value();
    EXPECT_EQ(t.init(s.data(), 4).error(), Error::busy);
    EXPECT_EQ(t.capacity(), max_cap_slots);
    EXPECT_TRUE(t.lookup(h, ObjType::domain, rights_all).ok());
    EXPECT_EQ(t.remove(h).value(), &o);
    EXPECT_FALSE(o.release());
    ASSERT_TRUE(t.init(s.data(), 4).ok());  // empty again: re-init allowed
    EXPECT_EQ(t.capacity(), 4u);
}

TEST(CapTable, UninitialisedTableRefusesEverything)
{
    CapTable t;
    Obj o;
    EXPECT_EQ(t.insert(&o, right_read).error(), Error::no_memory);
    EXPECT_EQ(o.ref_count(), 1u);
    for (Handle h : {0u, 1u, 0x10000u, 0xffffffffu}) {
        EXPECT_EQ(t.lookup(h, ObjType::none, 0).error(), Error::not_found);
        EXPECT_EQ(t.rights(h).error(), Error::not_found);
        EXPECT_EQ(t.remove(h).error(), Error::not_found);
        EXPECT_EQ(t.duplicate(h, 0).error(), Error::not_found);
    }
    EXPECT_EQ(t.remove_any(), nullptr);
    EXPECT_EQ(t.next_used(0), 0u);
    EXPECT_EQ(t.handle_at(0), invalid_handle);
}

TEST(CapTable, InsertTakesAReferenceAndHandlesAreExact)
{
    Table tb(4);
    Obj a, b(ObjType::evtchn);
    auto ha = tb.t.insert(&a, right_read | right_dup);
    ASSERT_TRUE(ha.ok());
    EXPECT_EQ(*ha, 0x00010000u);  // index 0, generation 1
    EXPECT_EQ(a.ref_count(), 2u);
    auto hb = tb.t.insert(&b, right_signal);
    ASSERT_TRUE(hb.ok());
    EXPECT_EQ(*hb, 0x00010001u);
    EXPECT_EQ(tb.t.used(), 2u);
    EXPECT_EQ(tb.t.free_count(), 2u);
    EXPECT_EQ(tb.t.lookup(*ha, ObjType::domain, right_read).value(), &a);
    EXPECT_EQ(tb.t.lookup(*hb, ObjType::evtchn, right_signal).value(), &b);
    EXPECT_EQ(tb.t.lookup(*hb, ObjType::none, 0).value(), &b);  // any type
    EXPECT_EQ(tb.t.rights(*ha).value(), right_read | right_dup);
    EXPECT_EQ(tb.t.rights(*hb).value(), right_signal);
    // lookup takes no reference
    EXPECT_EQ(a.ref_count(), 2u);
    EXPECT_EQ(b.ref_count(), 2u);
}

TEST(CapTable, InsertRefusesBadObjectsAndRights)
{
    Table tb(2);
    Obj none(ObjType::none);
    Obj ok;
    Obj dead;
    dead.refs = 0;
    Obj full;
    full.refs = UINT32_MAX;
    EXPECT_EQ(tb.t.insert(nullptr, right_read).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&none, right_read).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&ok, 0x80).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&ok, 0x80000000u).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&ok, rights_all | 0x100).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&dead, right_read).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&full, right_read).error(), Error::invalid);
    EXPECT_EQ(tb.t.used(), 0u);
    EXPECT_EQ(none.ref_count(), 1u);
    EXPECT_EQ(ok.ref_count(), 1u);
    EXPECT_EQ(dead.ref_count(), 0u);
    EXPECT_EQ(full.ref_count(), UINT32_MAX);
    // The refused inserts used no slot: the first good one gets slot 0.
    EXPECT_EQ(tb.t.insert(&ok, rights_none).value(), make_handle(0, 1));
    EXPECT_EQ(tb.t.insert(&ok, rights_all).value(), make_handle(1, 1));
}

TEST(CapTable, RightsAreCheckedOnEveryLookup)
{
    Table tb(128);
    Obj o;
    std::vector<Handle> hs;
    for (Rights held = 0; held <= rights_all; ++held) hs.push_back(tb.t.insert(&o, held).value());
    for (Rights held = 0; held <= rights_all; ++held) {
        for (Rights need = 0; need <= rights_all; ++need) {
            auto r = tb.t.lookup(hs[held], ObjType::domain, need);
            if ((held & need) == need) {
                ASSERT_TRUE(r.ok()) << held << " " << need;
                EXPECT_EQ(*r, &o);
            } else {
                EXPECT_EQ(r.error(), Error::denied) << held << " " << need;
            }
        }
        // Rights nobody can hold are never granted.
        EXPECT_EQ(tb.t.lookup(hs[held], ObjType::domain, 0x80).error(), Error::denied);
        EXPECT_EQ(tb.t.lookup(hs[held], ObjType::domain, 0xffffffffu).error(), Error::denied);
    }
    EXPECT_EQ(o.ref_count(), 1u + 128u);
}

TEST(CapTable, WrongTypeIsInvalidAndCheckedBeforeRights)
{
    Table tb(8);
    Obj objs[7] = {Obj(ObjType::domain), Obj(ObjType::vcpu),   Obj(ObjType::thread), Obj(ObjType::evtchn),
                   Obj(ObjType::region), Obj(ObjType::device), Obj(ObjType::control)};
    Handle hs[7];
    for (int i = 0; i < 7; ++i) hs[i] = tb.t.insert(&objs[i], right_read).value();
    for (int i = 0; i < 7; ++i) {
        for (int j = 0; j < 7; ++j) {
            auto r = tb.t.lookup(hs[i], all_types[j], right_read);
            if (i == j) EXPECT_EQ(r.value(), &objs[i]);
            else EXPECT_EQ(r.error(), Error::invalid);
            // wrong type and missing right: the type error wins
            if (i != j) {
                EXPECT_EQ(tb.t.lookup(hs[i], all_types[j], right_write).error(), Error::invalid);
            }
        }
        EXPECT_EQ(tb.t.lookup(hs[i], ObjType::none, right_write).error(), Error::denied);
    }
}

TEST(CapTable, Every32BitEdgeIsRejected)
{
    Table tb(5);
    Obj o;
    Handle live[5];
    for (auto& h : live) h = tb.t.insert(&o, rights_all).value();
    Handle edges[] = {0u,          0xffffffffu, 0x0000ffffu, 0x00010005u, 0x00010006u, 0x0001ffffu,
                      0xffff0000u, 0xffff0004u, 0x80000000u, 0x7fffffffu, 0x00020000u, 0x00000001u};
    for (Handle h : edges) {
        EXPECT_EQ(tb.t.lookup(h, ObjType::none, 0).error(), Error::not_found) << std::hex << h;
        EXPECT_EQ(tb.t.rights(h).error(), Error::not_found);
        EXPECT_EQ(tb.t.duplicate(h, 0).error(), Error::not_found);
        EXPECT_EQ(tb.t.remove(h).error(), Error::not_found);
    }
    // Generation 0 with a valid index, and every wrong generation of slot 0.
    for (uint32_t i = 0; i < 5; ++i)
        EXPECT_EQ(tb.t.lookup(make_handle(i, 0), ObjType::none, 0).error(), Error::not_found);
    for (uint32_t g = 0; g <= 0xffff; ++g) {
        auto r = tb.t.lookup(make_handle(0, uint16_t(g)), ObjType::none, 0);
        if (g == 1) EXPECT_TRUE(r.ok());
        else ASSERT_EQ(r.error(), Error::not_found) << g;
    }
    // Random values: only the five live handles are ever accepted.
    std::mt19937 rng(1234);
    for (int i = 0; i < 1000000; ++i) {
        Handle h = rng();
        auto r = tb.t.lookup(h, ObjType::none, 0);
        bool is_live = false;
        for (Handle l : live) is_live |= l == h;
        ASSERT_EQ(r.ok(), is_live) << std::hex << h;
    }
    for (Handle l : live) EXPECT_TRUE(tb.t.lookup(l, ObjType::domain, rights_all).ok());
    EXPECT_EQ(tb.t.used(), 5u);
    EXPECT_EQ(o.ref_count(), 6u);
}

TEST(CapTable, HandlesFromAnotherTableAreNotFoundWhenTheSlotIsFree)
{
    Table a(4), b(4);
    Obj o;
    Handle ha = a.t.insert(&o, rights_all).value();
    Handle ha2 = a.t.insert(&o, rights_all).value();
    // b's slots are all free: a's handles name nothing there.
    EXPECT_EQ(b.t.lookup(ha, ObjType::none, 0).error(), Error::not_found);
    EXPECT_EQ(b.t.lookup(ha2, ObjType::none, 0).error(), Error::not_found);
}

TEST(CapTable, StaleHandleAfterRemoveAndReinsert)
{
    Table tb(1);
    Obj a, b;
    Handle h1 = tb.t.insert(&a, rights_all).value();
    EXPECT_EQ(tb.t.remove(h1).value(), &a);
    EXPECT_FALSE(a.release());
    // Dead at once, before the slot is reused.
    EXPECT_EQ(tb.t.lookup(h1, ObjType::none, 0).error(), Error::not_found);
    EXPECT_EQ(tb.t.remove(h1).error(), Error::not_found);
    EXPECT_EQ(tb.t.rights(h1).error(), Error::not_found);
    Handle h2 = tb.t.insert(&b, right_read).value();
    EXPECT_EQ(handle_index(h2), handle_index(h1));
    EXPECT_EQ(h2, make_handle(0, 2));
    EXPECT_EQ(tb.t.lookup(h1, ObjType::none, 0).error(), Error::not_found);
    EXPECT_EQ(tb.t.remove(h1).error(), Error::not_found);
    EXPECT_EQ(tb.t.duplicate(h1, 0).error(), Error::not_found);
    EXPECT_EQ(tb.t.lookup(h2, ObjType::domain, right_read).value(), &b);
    EXPECT_EQ(a.ref_count(), 1u);
    EXPECT_EQ(b.ref_count(), 2u);
}

TEST(CapTable, FreedSlotsAreReusedOldestFirst)
{
    Table tb(4);
    Obj o;
    Handle h[4];
    for (auto& x : h) x = tb.t.insert(&o, 0).value();
    drop(tb.t, h[1]);
    drop(tb.t, h[3]);
    drop(tb.t, h[0]);
    EXPECT_EQ(o.ref_count(), 2u);
    EXPECT_EQ(tb.t.insert(&o, 0).value(), make_handle(1, 2));
    EXPECT_EQ(tb.t.insert(&o, 0).value(), make_handle(3, 2));
    EXPECT_EQ(tb.t.insert(&o, 0).value(), make_handle(0, 2));
    EXPECT_EQ(tb.t.insert(&o, 0).error(), Error::no_memory);
    EXPECT_EQ(o.ref_count(), 5u);
}

TEST(CapTable, GenerationWrapsAfter65535ReusesSkippingZero)
{
    Table tb(1);
    Obj o;
    Handle first = tb.t.insert(&o, 0).value();
    EXPECT_EQ(first, make_handle(0, 1));
    drop(tb.t, first);
    for (uint32_t i = 2; i <= 0xffff; ++i) {
        Handle h = tb.t.insert(&o, 0).value();
        ASSERT_EQ(h, make_handle(0, uint16_t(i)));
        ASSERT_EQ(tb.t.lookup(first, ObjType::none, 0).error(), Error::not_found);
        drop(tb.t, h);
    }
    EXPECT_EQ(o.ref_count(), 1u);
    // 65535 generations used: the next one is 1 again, never 0, and the
    // very first handle is valid again (the documented limit).
    Handle again = tb.t.insert(&o, 0).value();
    EXPECT_EQ(again, first);
    EXPECT_TRUE(tb.t.lookup(first, ObjType::none, 0).ok());
    EXPECT_EQ(o.ref_count(), 2u);
}

TEST(CapTable, ExhaustionAndRecovery)
{
    Table tb(8);
    Obj o, p;
    Handle h[8];
    for (auto& x : h) x = tb.t.insert(&o, rights_all).value();
    EXPECT_EQ(tb.t.used(), 8u);
    EXPECT_EQ(tb.t.free_count(), 0u);
    EXPECT_EQ(tb.t.insert(&p, rights_all).error(), Error::no_memory);
    EXPECT_EQ(tb.t.duplicate(h[0], right_read).error(), Error::no_memory);
    EXPECT_EQ(o.ref_count(), 9u);
    EXPECT_EQ(p.ref_count(), 1u);
    EXPECT_EQ(tb.t.used(), 8u);
    ASSERT_TRUE(tb.t.remove(h[5]).ok());
    EXPECT_TRUE(o.release() == false);
    Handle hp = tb.t.insert(&p, right_read).value();
    EXPECT_EQ(hp, make_handle(5, 2));
    EXPECT_EQ(tb.t.insert(&p, right_read).error(), Error::no_memory);
    EXPECT_EQ(p.ref_count(), 2u);
    EXPECT_EQ(o.ref_count(), 8u);
}

TEST(CapTable, LargestTableFillsEveryIndex)
{
    Table tb(max_cap_slots);
    Obj o;
    Handle last = 0;
    for (uint32_t i = 0; i < max_cap_slots; ++i) {
        auto h = tb.t.insert(&o, right_read);
        ASSERT_TRUE(h.ok());
        ASSERT_EQ(handle_index(*h), i);
        last = *h;
    }
    EXPECT_EQ(last, 0x0001fffeu);
    EXPECT_EQ(tb.t.insert(&o, right_read).error(), Error::no_memory);
    EXPECT_EQ(tb.t.lookup(0x0001ffffu, ObjType::none, 0).error(), Error::not_found);  // index 0xffff
    EXPECT_EQ(tb.t.lookup(last, ObjType::domain, right_read).value(), &o);
    EXPECT_EQ(o.ref_count(), 1u + max_cap_slots);
    EXPECT_EQ(tb.t.remove_all([](KObject* k) { EXPECT_FALSE(k->release()); }), max_cap_slots);
    EXPECT_EQ(o.ref_count(), 1u);
}

TEST(CapTable, DuplicateNeedsDupAndOnlyShrinksRights)
{
    Table tb(8);
    Obj o;
    Handle full = tb.t.insert(&o, rights_all).value();
    Handle nodup = tb.t.insert(&o, rights_all & ~right_dup).value();
    Handle small = tb.t.insert(&o, right_read | right_dup).value();
    EXPECT_EQ(o.ref_count(), 4u);

    EXPECT_EQ(tb.t.duplicate(nodup, right_read).error(), Error::denied);
    EXPECT_EQ(tb.t.duplicate(small, right_read | right_write).error(), Error::denied);
    EXPECT_EQ(tb.t.duplicate(small, 0x80).error(), Error::denied);
    EXPECT_EQ(tb.t.duplicate(full, rights_all | 0x80).error(), Error::denied);
    EXPECT_EQ(tb.t.duplicate(full, 0xffffffffu).error(), Error::denied);
    EXPECT_EQ(o.ref_count(), 4u);
    EXPECT_EQ(tb.t.used(), 3u);

    Handle same = tb.t.duplicate(full, rights_all).value();
    EXPECT_EQ(tb.t.rights(same).value(), rights_all);
    Handle ro = tb.t.duplicate(full, right_read).value();
    EXPECT_EQ(tb.t.rights(ro).value(), right_read);
    EXPECT_EQ(tb.t.lookup(ro, ObjType::domain, right_read).value(), &o);
    EXPECT_EQ(tb.t.lookup(ro, ObjType::domain, right_write).error(), Error::denied);
    // The read-only copy lost right_dup: no further copies from it.
    EXPECT_EQ(tb.t.duplicate(ro, right_read).error(), Error::denied);
    Handle none = tb.t.duplicate(small, rights_none).value();
    EXPECT_EQ(tb.t.rights(none).value(), rights_none);
    EXPECT_EQ(tb.t.lookup(none, ObjType::domain, 0).value(), &o);
    Handle keep = tb.t.duplicate(small, right_read | right_dup).value();
    EXPECT_EQ(o.ref_count(), 8u);

    // The copies are independent of the original.
    ASSERT_TRUE(tb.t.remove(full).ok());
    EXPECT_FALSE(o.release());
    EXPECT_EQ(tb.t.lookup(same, ObjType::domain, rights_all).value(), &o);
    EXPECT_EQ(tb.t.lookup(keep, ObjType::domain, right_read).value(), &o);
    EXPECT_EQ(o.ref_count(), 7u);
}

TEST(CapTable, TransferMovesTheCapabilityAndItsReference)
{
    Table a(4), b(2);
    Obj o(ObjType::region);
    Handle h = a.t.insert(&o, right_read | right_map | right_transfer).value();
    Handle nt = a.t.insert(&o, right_read | right_map).value();
    EXPECT_EQ(o.ref_count(), 3u);

    EXPECT_EQ(a.t.transfer(a.t, h, right_read).error(), Error::invalid);
    EXPECT_EQ(a.t.transfer(b.t, nt, right_read).error(), Error::denied);
    EXPECT_EQ(a.t.transfer(b.t, h, right_read | right_write).error(), Error::denied);
    EXPECT_EQ(a.t.transfer(b.t, h, 0x80).error(), Error::denied);
    EXPECT_EQ(a.t.transfer(b.t, 0, right_read).error(), Error::not_found);
    EXPECT_EQ(a.t.transfer(b.t, 0xffffffffu, right_read).error(), Error::not_found);
    CapTable never_initialised;
    EXPECT_EQ(a.t.transfer(never_initialised, h, right_read).error(), Error::no_memory);
    EXPECT_EQ(a.t.used(), 2u);
    EXPECT_EQ(b.t.used(), 0u);
    EXPECT_EQ(o.ref_count(), 3u);

    Handle hb = a.t.transfer(b.t, h, right_map).value();
    EXPECT_EQ(a.t.lookup(h, ObjType::none, 0).error(), Error::not_found);
    EXPECT_EQ(b.t.lookup(hb, ObjType::region, right_map).value(), &o);
    EXPECT_EQ(b.t.lookup(hb, ObjType::region, right_read).error(), Error::denied);
    EXPECT_EQ(b.t.rights(hb).value(), right_map);
    EXPECT_EQ(a.t.used(), 1u);
    EXPECT_EQ(b.t.used(), 1u);
    EXPECT_EQ(o.ref_count(), 3u);  // moved, not copied
    // Without right_transfer it stays in b.
    Table c(2);
    EXPECT_EQ(b.t.transfer(c.t, hb, right_map).error(), Error::denied);

    // Copy-then-move gives a capability while keeping one.
    Handle src = a.t.insert(&o, rights_all).value();
    Handle copy = a.t.duplicate(src, right_read | right_transfer).value();
    Handle given = a.t.transfer(b.t, copy, right_read).value();
    EXPECT_EQ(a.t.lookup(src, ObjType::region, rights_all).value(), &o);
    EXPECT_EQ(b.t.lookup(given, ObjType::region, right_read).value(), &o);
    EXPECT_EQ(o.ref_count(), 5u);
    // Destination full: nothing changes.
    Handle again = a.t.duplicate(src, right_transfer).value();
    EXPECT_EQ(b.t.free_count(), 0u);
    EXPECT_EQ(a.t.transfer(b.t, again, 0).error(), Error::no_memory);
    EXPECT_EQ(a.t.rights(again).value(), right_transfer);
    EXPECT_EQ(o.ref_count(), 6u);
}

TEST(CapTable, RefcountsAreExactThroughTheLifeCycle)
{
    Table a(8), b(8);
    Obj* o = new Obj(ObjType::thread);  // creator's reference: 1
    Handle h1 = a.t.insert(o, rights_all).value();
    Handle h2 = a.t.duplicate(h1, right_read | right_transfer).value();
    Handle h3 = a.t.transfer(b.t, h2, right_read).value();
    EXPECT_EQ(o->ref_count(), 3u);
    EXPECT_FALSE(o->release());  // the creator lets go
    EXPECT_EQ(o->ref_count(), 2u);
    KObject* r1 = a.t.remove(h1).value();
    EXPECT_EQ(r1, o);
    EXPECT_FALSE(r1->release());
    EXPECT_EQ(o->ref_count(), 1u);
    KObject* r3 = b.t.remove(h3).value();
    bool last = r3->release();
    EXPECT_TRUE(last);
    if (last) delete static_cast<Obj*>(r3);
    EXPECT_EQ(a.t.used(), 0u);
    EXPECT_EQ(b.t.used(), 0u);
}

TEST(CapTable, KObjectRetainAndRelease)
{
    Obj o;
    EXPECT_EQ(o.ref_count(), 1u);
    EXPECT_TRUE(o.retain());
    EXPECT_EQ(o.ref_count(), 2u);
    EXPECT_FALSE(o.release());
    EXPECT_TRUE(o.release());
    EXPECT_EQ(o.ref_count(), 0u);
    EXPECT_FALSE(o.retain());  // no revival
    EXPECT_FALSE(o.release());  // no underflow
    EXPECT_EQ(o.ref_count(), 0u);
    o.refs = UINT32_MAX;
    EXPECT_FALSE(o.retain());
    EXPECT_EQ(o.ref_count(), UINT32_MAX);
    constexpr KObject k(ObjType::vcpu, 3);
    static_assert(k.type == ObjType::vcpu && k.refs == 3);
    EXPECT_STREQ(obj_type_name(ObjType::evtchn), "evtchn");
}

TEST(CapTable, TeardownByRemoveAnyAndRemoveAllAndListing)
{
    Table tb(6);
    Obj o[4];
    Handle h[4];
    for (int i = 0; i < 4; ++i) h[i] = tb.t.insert(&o[i], right_read).value();
    ASSERT_TRUE(tb.t.remove(h[1]).ok());
    EXPECT_FALSE(o[1].release());
    EXPECT_EQ(tb.t.next_used(0), 0u);
    EXPECT_EQ(tb.t.next_used(1), 2u);
    EXPECT_EQ(tb.t.next_used(4), 6u);
    EXPECT_EQ(tb.t.next_used(0xffffffffu), 6u);
    EXPECT_EQ(tb.t.handle_at(0), h[0]);
    EXPECT_EQ(tb.t.handle_at(1), invalid_handle);
    EXPECT_EQ(tb.t.handle_at(3), h[3]);
    EXPECT_EQ(tb.t.handle_at(6), invalid_handle);
    EXPECT_EQ(tb.t.handle_at(0xffffffffu), invalid_handle);

    EXPECT_EQ(tb.t.remove_any(), &o[0]);
    EXPECT_FALSE(o[0].release());
    EXPECT_EQ(tb.t.lookup(h[0], ObjType::none, 0).error(), Error::not_found);
    std::vector<KObject*> dropped;
    EXPECT_EQ(tb.t.remove_all([&](KObject* k) { dropped.push_back(k); }), 2u);
    EXPECT_EQ(dropped, (std::vector<KObject*>{&o[2], &o[3]}));
    for (KObject* k : dropped) EXPECT_FALSE(k->release());
    EXPECT_EQ(tb.t.remove_any(), nullptr);
    EXPECT_EQ(tb.t.remove_all([](KObject*) { ADD_FAILURE(); }), 0u);
    EXPECT_EQ(tb.t.used(), 0u);
    EXPECT_EQ(tb.t.next_used(0), 6u);
    for (auto& x : o) EXPECT_EQ(x.ref_count(), 1u);
}

// Random insert/lookup/duplicate/transfer/remove on two tables against a
// map-based model: every result (error or value) and every reference count
// must match after every step. Handles come from live ones, dead ones and
// random values.
TEST(CapTable, ModelBasedRandom)
{
    struct Cap {
        int obj;
        Rights rights;
    };
    constexpr int nobj = 6;
    Table tables[2] = {Table(7), Table(11)};
    std::map<Handle, Cap> model[2];
    std::vector<Handle> dead[2];
    std::vector<std::unique_ptr<Obj>> owned;
    for (int i = 0; i < nobj; ++i) owned.push_back(std::make_unique<Obj>(all_types[i % 7]));
    auto objs = [&](int k) -> Obj& { return *owned[k]; };
    uint32_t refs[nobj];
    for (auto& r : refs) r = 1;

    // How often each outcome happened, to show the run covered them all.
    std::map<std::pair<int, Error>, unsigned> seen;
    std::mt19937 rng(42);
    auto pick_handle = [&](int t) -> Handle {
        unsigned k = rng() % 4;
        if (k < 2 && !model[t].empty()) {
            auto it = model[t].begin();
            std::advance(it, rng() % model[t].size());
            return it->first;
        }
        if (k == 2 && !dead[t].empty()) return dead[t][rng() % dead[t].size()];
        return rng() % 2 ? Handle(rng()) : make_handle(rng() % 12, uint16_t(rng() % 4));
    };
    auto pick_rights = [&]() -> Rights { return rng() % 16 == 0 ? Rights(rng()) : Rights(rng() & rights_all); };

    for (int step = 0; step < 200000; ++step) {
        int t = rng() % 2;
        CapTable& tab = tables[t].t;
        auto& m = model[t];
        int op = int(rng() % 6);
        switch (op) {
        case 0: {  // insert
            int oi = rng() % nobj;
            Rights r = pick_rights();
            auto res = tab.insert(&objs(oi), r);
            ++seen[{op, res.error()}];
            if (r & ~rights_all) {
                ASSERT_EQ(res.error(), Error::invalid);
            } else if (m.size() == tab.capacity()) {
                ASSERT_EQ(res.error(), Error::no_memory);
            } else {
                ASSERT_TRUE(res.ok());
                ASSERT_EQ(m.count(*res), 0u);
                m[*res] = {oi, r};
                ++refs[oi];
            }
            break;
        }
        case 1: {  // lookup
            Handle h = pick_handle(t);
            ObjType want = rng() % 3 == 0 ? ObjType::none : all_types[rng() % 7];
            Rights need = pick_rights();
            auto res = tab.lookup(h, want, need);
            ++seen[{op, res.error()}];
            auto it = m.find(h);
            if (it == m.end()) ASSERT_EQ(res.error(), Error::not_found);
            else if (want != ObjType::none && objs(it->second.obj).type != want) ASSERT_EQ(res.error(), Error::invalid);
            else if ((it->second.rights & need) != need) ASSERT_EQ(res.error(), Error::denied);
            else ASSERT_EQ(res.value(), &objs(it->second.obj));
            break;
        }
        case 2: {  // duplicate
            Handle h = pick_handle(t);
            Rights sub = pick_rights();
            auto res = tab.duplicate(h, sub);
            ++seen[{op, res.error()}];
            auto it = m.find(h);
            if (it == m.end()) {
                ASSERT_EQ(res.error(), Error::not_found);
            } else if (!(it->second.rights & right_dup) || (sub & ~it->second.rights)) {
                ASSERT_EQ(res.error(), Error::denied);
            } else if (m.size() == tab.capacity()) {
                ASSERT_EQ(res.error(), Error::no_memory);
            } else {
                ASSERT_TRUE(res.ok());
                ASSERT_EQ(m.count(*res), 0u);
                int oi = it->second.obj;
                m[*res] = {oi, sub};
                ++refs[oi];
            }
            break;
        }
        case 3: {  // transfer
            int u = rng() % 4 == 0 ? t : 1 - t;
            Handle h = pick_handle(t);
            Rights sub = pick_rights();
            auto res = tab.transfer(tables[u].t, h, sub);
            ++seen[{op, res.error()}];
            auto it = m.find(h);
            if (u == t) {
                ASSERT_EQ(res.error(), Error::invalid);
            } else if (it == m.end()) {
                ASSERT_EQ(res.error(), Error::not_found);
            } else if (!(it->second.rights & right_transfer) || (sub & ~it->second.rights)) {
                ASSERT_EQ(res.error(), Error::denied);
            } else if (model[u].size() == tables[u].t.capacity()) {
                ASSERT_EQ(res.error(), Error::no_memory);
            } else {
                ASSERT_TRUE(res.ok());
                ASSERT_EQ(model[u].count(*res), 0u);
                model[u][*res] = {it->second.obj, sub};
                dead[t].push_back(h);
                m.erase(it);
            }
            break;
        }
        case 4: {  // remove
            Handle h = pick_handle(t);
            auto res = tab.remove(h);
            ++seen[{op, res.error()}];
            auto it = m.find(h);
            if (it == m.end()) {
                ASSERT_EQ(res.error(), Error::not_found);
            } else {
                ASSERT_EQ(res.value(), &objs(it->second.obj));
                ASSERT_FALSE((*res)->release());
                --refs[it->second.obj];
                dead[t].push_back(h);
                m.erase(it);
            }
            break;
        }
        case 5: {  // rights
            Handle h = pick_handle(t);
            auto res = tab.rights(h);
            ++seen[{op, res.error()}];
            auto it = m.find(h);
            if (it == m.end()) ASSERT_EQ(res.error(), Error::not_found);
            else ASSERT_EQ(res.value(), it->second.rights);
            break;
        }
        }
        ASSERT_EQ(tab.used(), m.size());
        for (int i = 0; i < nobj; ++i) ASSERT_EQ(objs(i).ref_count(), refs[i]) << "step " << step;
        if (dead[t].size() > 64) dead[t].erase(dead[t].begin());
    }
    // Every outcome of every call came up many times.
    const std::pair<int, Error> expected[] = {
        {0, Error::none},      {0, Error::invalid},   {0, Error::no_memory}, {1, Error::none},
        {1, Error::not_found}, {1, Error::invalid},   {1, Error::denied},    {2, Error::none},
        {2, Error::not_found}, {2, Error::denied},    {2, Error::no_memory}, {3, Error::none},
        {3, Error::invalid},   {3, Error::not_found}, {3, Error::denied},    {3, Error::no_memory},
        {4, Error::none},      {4, Error::not_found}, {5, Error::none},      {5, Error::not_found},
    };
    for (auto& e : expected) EXPECT_GE(seen[e], 100u) << "op " << e.first << " " << lib::error_name(e.second);
    for (auto& tb : tables)
        tb.t.remove_all([](KObject* k) { EXPECT_FALSE(k->release()); });
    for (auto& o : owned) EXPECT_EQ(o->ref_count(), 1u);
}

// remove_any keeps a hint of where used slots start; an insert into a lower
// slot in the middle of a teardown must still be found.
TEST(CapTable, RemoveAnyFindsSlotsReusedBelowItsHint)
{
    Table tb(3);
    Obj a, b, c, d;
    ASSERT_TRUE(tb.t.insert(&a, 0).ok());
    ASSERT_TRUE(tb.t.insert(&b, 0).ok());
    ASSERT_TRUE(tb.t.insert(&c, 0).ok());
    EXPECT_EQ(tb.t.remove_any(), &a);
    EXPECT_EQ(tb.t.remove_any(), &b);
    EXPECT_EQ(tb.t.insert(&d, 0).value(), make_handle(0, 2));  // oldest freed slot: 0
    EXPECT_EQ(tb.t.remove_any(), &d);
    EXPECT_EQ(tb.t.remove_any(), &c);
    EXPECT_EQ(tb.t.remove_any(), nullptr);
    for (Obj* o : {&a, &b, &c, &d}) {
        EXPECT_FALSE(o->release());
        EXPECT_EQ(o->ref_count(), 1u);
    }
}

// The order of checks is part of the contract: a bad object is invalid even
// when the table is full; transfer to itself is invalid even for a bad handle.
TEST(CapTable, ErrorOrder)
{
    Table tb(1);
    Obj o, dead;
    dead.refs = 0;
    Handle h = tb.t.insert(&o, right_read).value();
    EXPECT_EQ(tb.t.insert(&dead, right_read).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&o, 0x80).error(), Error::invalid);
    EXPECT_EQ(tb.t.insert(&o, right_read).error(), Error::no_memory);
    EXPECT_EQ(tb.t.transfer(tb.t, 0, right_read).error(), Error::invalid);
    EXPECT_EQ(tb.t.lookup(0, ObjType::vcpu, right_write).error(), Error::not_found);
    EXPECT_EQ(tb.t.lookup(h, ObjType::vcpu, right_write).error(), Error::invalid);
    EXPECT_EQ(tb.t.duplicate(h, rights_none).error(), Error::denied);  // no right_dup, though full
    EXPECT_EQ(o.ref_count(), 2u);
    EXPECT_EQ(dead.ref_count(), 0u);
}
