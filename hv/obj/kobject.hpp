// The header every kernel object reached through a capability starts with:
// its type (checked by CapTable::lookup) and a reference count. An object
// embeds a KObject as its first member or derives from it; no virtual
// functions, the kernel switches on `type`. Each capability slot holding the
// object owns one reference, so do kernel pointers kept beyond a table lock.
// The kernel frees the object when release() reports the last reference gone.
//
// The count is atomic: references are dropped outside the table locks (see
// CapTable::remove), possibly on several CPUs at once.
#pragma once

#include <cstdint>

namespace hv::obj {

// Object types. The hypercall ABI mirrors the numbers (handle info), so they
// are fixed: add new types at the end.
enum class ObjType : uint8_t {
    none = 0,  // not an object; as a lookup's `want`: any type
    domain = 1,
    vcpu = 2,
    thread = 3,
    evtchn = 4,
    region = 5,
    device = 6,
    control = 7,  // the hypervisor's control interface (Dom0's root capability)
};

inline constexpr unsigned obj_type_count = 8;
static_assert(sizeof(ObjType) == 1 && unsigned(ObjType::control) == obj_type_count - 1);

constexpr const char* obj_type_name(ObjType t)
{
    switch (t) {
    case ObjType::none: return "none";
    case ObjType::domain: return "domain";
    case ObjType::vcpu: return "vcpu";
    case ObjType::thread: return "thread";
    case ObjType::evtchn: return "evtchn";
    case ObjType::region: return "region";
    case ObjType::device: return "device";
    case ObjType::control: return "control";
    }
    return "?";
}

struct KObject {
    ObjType type = ObjType::none;
    // Written only through retain/release (atomic); read it with ref_count().
    uint32_t refs = 0;

    constexpr KObject() = default;
    // A new object starts with the creator's reference.
    constexpr explicit KObject(ObjType t, uint32_t initial_refs = 1) : type(t), refs(initial_refs) {}
    KObject(const KObject&) = delete;
    KObject& operator=(const KObject&) = delete;

    uint32_t ref_count() const { return __atomic_load_n(&refs, __ATOMIC_RELAXED); }

    // Takes a reference. Refused (false, nothing changed) if the object has
    // none left, so a dying object cannot be revived, or if the count would
    // overflow.
    bool retain()
    {
        uint32_t cur = __atomic_load_n(&refs, __ATOMIC_RELAXED);
        do {
            if (cur == 0 || cur == UINT32_MAX) return false;
        } while (!__atomic_compare_exchange_n(&refs, &cur, cur + 1, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
        return true;
    }

    // Drops a reference. True if it was the last one: the caller frees the
    // object (acquire ordering: it sees every write made before the other
    // references were dropped). Releasing an object without references is a
    // kernel bug; it changes nothing and returns false.
    [[nodiscard]] bool release()
    {
        uint32_t cur = __atomic_load_n(&refs, __ATOMIC_RELAXED);
        do {
            if (cur == 0) return false;
        } while (!__atomic_compare_exchange_n(&refs, &cur, cur - 1, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
        return cur == 1;
    }
};

static_assert(sizeof(KObject) == 8);
static_assert(__atomic_always_lock_free(sizeof(uint32_t), 0));

}  // namespace hv::obj
