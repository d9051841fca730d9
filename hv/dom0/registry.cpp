#include "hv/dom0/registry.hpp"

#include "arch/x86_64/spinlock.hpp"
#include "lib/str.hpp"

namespace hv {
namespace detail {

Domain* registry_slots[max_domains];
namespace {
arch::SpinLock lock;
uint64_t flags;
}  // namespace
void registry_lock() { flags = lock.lock(); }
void registry_unlock() { lock.unlock(flags); }

}  // namespace detail

// The slots hold the domains packed in id order (ids only grow): add
// appends, remove closes the gap.
lib::Status registry_add(Domain& d)
{
    detail::registry_lock();
    uint32_t n = 0;
    while (n < max_domains && detail::registry_slots[n]) ++n;
    if (n == max_domains) {
        detail::registry_unlock();
        return lib::err(lib::Error::no_memory);
    }
    detail::registry_slots[n] = &d;
    detail::registry_unlock();
    return {};
}

void registry_remove(Domain& d)
{
    bool found = false;
    detail::registry_lock();
    uint32_t out = 0;
    for (uint32_t i = 0; i < max_domains; ++i) {
        Domain* s = detail::registry_slots[i];
        detail::registry_slots[i] = nullptr;
        if (s == &d) found = true;
        else if (s) detail::registry_slots[out++] = s;
    }
    detail::registry_unlock();
    if (found) release_domain(d);
}

Domain* registry_find_name(const char* name)
{
    Domain* hit = nullptr;
    registry_for_each(0, [&](const Domain& d) {
        if (!d.dead && lib::StrView(d.name) == lib::StrView(name)) {
            hit = const_cast<Domain*>(&d);
            return false;
        }
        return true;
    });
    return hit;
}

void release_domain(Domain& d)
{
    if (d.kobj.release()) destroy_domain(&d);
}

}  // namespace hv
