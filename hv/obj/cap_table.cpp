// CapTable: handle decoding, the FIFO free list and the reference rules (see
// cap_table.hpp for the contract).
#include "hv/obj/cap_table.hpp"

namespace hv::obj {

using lib::err;
using lib::Error;

lib::Status CapTable::init(CapSlot* slots, uint32_t count)
{
    if (used_ != 0) return Error::busy;
    if (!slots) return Error::invalid;
    if (count == 0 || count > max_cap_slots) return Error::out_of_range;
    for (uint32_t i = 0; i < count; ++i) {
        slots[i].object = nullptr;
        slots[i].rights = 0;
        slots[i].generation = 1;
        slots[i].next_free = i + 1 < count ? uint16_t(i + 1) : no_slot;
    }
    slots_ = slots;
    count_ = count;
    free_head_ = 0;
    free_tail_ = uint16_t(count - 1);
    used_from_ = 0;
    return {};
}

// Every field of the handle is checked before the slot is read, and the index
// against count_, so no 32-bit value reaches outside slots_[0..count_-1].
const CapSlot* CapTable::find(Handle h) const
{
    uint32_t index = handle_index(h);
    uint16_t gen = handle_generation(h);
    if (gen == 0 || index >= count_) return nullptr;
    const CapSlot& s = slots_[index];
    if (!s.object || s.generation != gen) return nullptr;
    return &s;
}

Handle CapTable::place(KObject* o, Rights r)
{
    uint16_t index = free_head_;
    CapSlot& s = slots_[index];
    free_head_ = s.next_free;
    if (free_head_ == no_slot) free_tail_ = no_slot;
    s.object = o;
    s.rights = r;
    s.next_free = no_slot;
    ++used_;
    if (index < used_from_) used_from_ = index;
    return make_handle(index, s.generation);
}

void CapTable::free_slot(CapSlot& s)
{
    s.object = nullptr;
    s.rights = 0;
    // The old handle dies now, not only when the slot is reused.
    s.generation = uint16_t(s.generation + 1);
    if (s.generation == 0) s.generation = 1;
    s.next_free = no_slot;
    uint16_t index = uint16_t(&s - slots_);
    if (free_tail_ == no_slot) free_head_ = index;
    else slots_[free_tail_].next_free = index;
    free_tail_ = index;
    --used_;
}

lib::Result<Handle> CapTable::insert(KObject* o, Rights r)
{
    if (!o || o->type == ObjType::none || (r & ~rights_all)) return err(Error::invalid);
    uint32_t refs = o->ref_count();
    if (refs == 0 || refs == UINT32_MAX) return err(Error::invalid);
    if (free_head_ == no_slot) return err(Error::no_memory);
    // Can still fail if the last reference went since the check above.
    if (!o->retain()) return err(Error::invalid);
    return place(o, r);
}

lib::Result<KObject*> CapTable::lookup(Handle h, ObjType want, Rights need) const
{
    const CapSlot* s = find(h);
    if (!s) return err(Error::not_found);
    if (want != ObjType::none && s->object->type != want) return err(Error::invalid);
    if (!has_rights(s->rights, need)) return err(Error::denied);
    return s->object;
}

lib::Result<Rights> CapTable::rights(Handle h) const
{
    const CapSlot* s = find(h);
    if (!s) return err(Error::not_found);
    return s->rights;
}

lib::Result<Handle> CapTable::duplicate(Handle h, Rights subset)
{
    const CapSlot* s = find(h);
    if (!s) return err(Error::not_found);
    if (!has_rights(s->rights, right_dup) || !has_rights(s->rights, subset)) return err(Error::denied);
    if (free_head_ == no_slot) return err(Error::no_memory);
    // A used slot holds a reference, so only overflow can refuse this.
    if (!s->object->retain()) return err(Error::invalid);
    return place(s->object, subset);
}

lib::Result<Handle> CapTable::transfer(CapTable& to, Handle h, Rights subset)
{
    if (&to == this) return err(Error::invalid);
    CapSlot* s = find(h);
    if (!s) return err(Error::not_found);
    if (!has_rights(s->rights, right_transfer) || !has_rights(s->rights, subset)) return err(Error::denied);
    if (to.free_head_ == no_slot) return err(Error::no_memory);
    KObject* o = s->object;
    free_slot(*s);
    return to.place(o, subset);
}

lib::Result<KObject*> CapTable::remove(Handle h)
{
    CapSlot* s = find(h);
    if (!s) return err(Error::not_found);
    KObject* o = s->object;
    free_slot(*s);
    return o;
}

KObject* CapTable::remove_any()
{
    uint32_t index = next_used(used_from_);
    used_from_ = index;
    if (index >= count_) return nullptr;
    KObject* o = slots_[index].object;
    free_slot(slots_[index]);
    return o;
}

uint32_t CapTable::next_used(uint32_t index) const
{
    if (used_ == 0) return count_;
    for (; index < count_; ++index)
        if (slots_[index].object) return index;
    return count_;
}

Handle CapTable::handle_at(uint32_t index) const
{
    if (index >= count_ || !slots_[index].object) return invalid_handle;
    return make_handle(index, slots_[index].generation);
}

}  // namespace hv::obj
