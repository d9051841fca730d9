// A domain's capability table: the handles its hypercalls name kernel objects
// by, each with the rights it grants (NOVA/Zircon-style). Portable: the table
// runs over a slot array the caller provides, never allocates and takes no
// locks.
//
// HANDLES. A handle is (generation << 16) | slot index. Each slot's
// generation starts at 1 and advances (skipping 0) every time the slot is
// freed, so a handle is rejected as soon as its capability is removed, and a
// reused slot hands out a different value. Handle 0 (and every handle with
// generation 0) is never valid. Freed slots are reused in FIFO order (least
// recently freed first), so a stale handle comes back to life only after its
// slot was reused 65535 times, i.e. after at least 65535 * capacity inserts;
// that is the generation wrap (tested, accepted, like Zircon's).
// Dom0 must treat handles as opaque.
//
// REFERENCES. Every used slot owns one reference on its object (KObject):
// insert and duplicate take one, remove gives the slot's to the caller, who
// drops it (KObject::release) after unlocking, and frees the object if that
// was the last one. transfer moves the slot's reference to the other table.
//
// LOCKING. The caller holds the table's lock for every call (the domain's
// capability lock); transfer needs both tables' locks, taken in the kernel's
// domain order (lower domain id first). A pointer returned by lookup is valid
// while the lock is held; retain() it to keep it longer.
//
// ERRORS, in the order they are checked (transfer checks for the same
// table first):
//   not_found  handle 0, generation 0, index >= capacity, free slot, stale
//              generation (never a read outside the table, for any value)
//   invalid    wrong object type (lookup), bad object or rights (insert),
//              transfer to the same table
//   denied     a needed right is missing: `need` for lookup, right_dup for
//              duplicate, right_transfer for transfer, or the new rights are
//              not a subset of the held ones
//   no_memory  the (destination) table is full; nothing changed
#pragma once

#include <cstdint>

#include "hv/obj/kobject.hpp"
#include "hv/obj/rights.hpp"
#include "lib/result.hpp"

namespace hv::obj {

using Handle = uint32_t;

inline constexpr Handle invalid_handle = 0;
inline constexpr unsigned handle_index_bits = 16;
inline constexpr uint32_t handle_index_mask = (1u << handle_index_bits) - 1;
// Index 0xffff is the free-list terminator, so a table has at most 65535 slots.
inline constexpr uint32_t max_cap_slots = handle_index_mask;

constexpr uint32_t handle_index(Handle h) { return h & handle_index_mask; }
constexpr uint16_t handle_generation(Handle h) { return uint16_t(h >> handle_index_bits); }
constexpr Handle make_handle(uint32_t index, uint16_t generation)
{
    return (Handle(generation) << handle_index_bits) | (index & handle_index_mask);
}

static_assert(sizeof(Handle) == 4, "the hypercall ABI passes handles as 32-bit values");
static_assert(make_handle(0, 0) == invalid_handle);
static_assert(handle_index(make_handle(0x1234, 0xabcd)) == 0x1234);
static_assert(handle_generation(make_handle(0x1234, 0xabcd)) == 0xabcd);

// One capability. Owned by CapTable once init() has run; the caller only
// provides the storage (a zeroed or default-constructed array is fine).
struct CapSlot {
    KObject* object = nullptr;  // nullptr: free
    Rights rights = 0;
    uint16_t generation = 0;  // of the handle naming this slot now (or next, if free)
    uint16_t next_free = 0;   // free list link (valid while free)
};
static_assert(sizeof(CapSlot) == 16);

class CapTable {
public:
    constexpr CapTable() = default;
    CapTable(const CapTable&) = delete;
    CapTable& operator=(const CapTable&) = delete;

    // Takes over slots[0..count-1] and makes them all free. Errors: busy
    // (the table still holds capabilities), invalid (slots null),
    // out_of_range (count 0 or > max_cap_slots).
    lib::Status init(CapSlot* slots, uint32_t count);

    uint32_t capacity() const { return count_; }
    uint32_t used() const { return used_; }
    uint32_t free_count() const { return count_ - used_; }

    // Stores `o` with rights `r` and takes a reference on it. Errors:
    // invalid (o null, o->type none, r has bits outside rights_all, or o
    // has no references left / too many), no_memory (full; o untouched).
    lib::Result<Handle> insert(KObject* o, Rights r);

    // The object behind `h` if it has type `want` (ObjType::none: any type)
    // and the handle holds every right in `need`. No reference is taken.
    // Errors: not_found, invalid (type), denied (rights).
    lib::Result<KObject*> lookup(Handle h, ObjType want, Rights need) const;

    lib::Result<Rights> rights(Handle h) const;

    // A second handle to the same object with rights `subset` (which must be
    // held by `h`; rights only shrink; rights_none is allowed). Needs
    // right_dup on `h`. Takes a reference. Errors: not_found, denied,
    // no_memory.
    lib::Result<Handle> duplicate(Handle h, Rights subset);

    // Moves the capability to table `to` with rights `subset` (held by `h`):
    // `h` is freed here and the returned handle is valid in `to`. The
    // reference moves with it. Needs right_transfer on `h`. Caller holds both
    // locks. Errors: invalid (to is this table), not_found, denied,
    // no_memory (`to` is full; nothing changed). To give a copy, duplicate
    // first and transfer the duplicate.
    lib::Result<Handle> transfer(CapTable& to, Handle h, Rights subset);

    // Frees the slot and returns its object together with the slot's
    // reference: the caller releases it after dropping the lock. Errors:
    // not_found.
    lib::Result<KObject*> remove(Handle h);

    // Teardown. remove_any frees the lowest used slot and returns its object
    // (with the reference, as remove does), or nullptr if the table is empty,
    // so the caller can drop each reference outside the lock:
    //   for (;;) { lock; o = t.remove_any(); unlock; if (!o) break; drop(o); }
    // remove_all does the same under one lock hold, calling drop(KObject*)
    // for every object, and returns how many there were.
    KObject* remove_any();
    template <typename F> uint32_t remove_all(F&& drop)
    {
        uint32_t n = 0;
        while (KObject* o = remove_any()) {
            drop(o);
            ++n;
        }
        return n;
    }

    // Listing (xl-like): the lowest used slot index >= index, or capacity()
    // if none; the handle naming a used slot (invalid_handle if the index is
    // free or out of range).
    uint32_t next_used(uint32_t index) const;
    Handle handle_at(uint32_t index) const;

private:
    static constexpr uint16_t no_slot = uint16_t(max_cap_slots);

    const CapSlot* find(Handle h) const;
    CapSlot* find(Handle h) { return const_cast<CapSlot*>(static_cast<const CapTable*>(this)->find(h)); }
    Handle place(KObject* o, Rights r);
    void free_slot(CapSlot& s);

    CapSlot* slots_ = nullptr;
    uint32_t count_ = 0;
    uint32_t used_ = 0;
    uint16_t free_head_ = no_slot;  // reused first
    uint16_t free_tail_ = no_slot;  // freed last
    // No used slot below this index: remove_any scans from here, so a
    // teardown of n capabilities is O(n), not O(n^2).
    uint32_t used_from_ = 0;
};

}  // namespace hv::obj
