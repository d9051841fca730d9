// Every domain by id, for domain_list and name checks, holding one reference
// on each. Dom0's own domain is not a Domain (it is a Pd) and not listed.
#pragma once

#include <cstdint>

#include "hv/domain/domain.hpp"
#include "lib/result.hpp"

namespace hv {

inline constexpr uint32_t max_domains = 256;

lib::Status registry_add(Domain& d);  // takes the creator's reference
void registry_remove(Domain& d);      // drops the registry's reference
Domain* registry_find_name(const char* name);
// Calls f(const Domain&) for domains with id >= first_id in id order until
// it returns false; under the registry lock.
template <typename F> void registry_for_each(uint64_t first_id, F&& f);
// Drops a reference; the last one frees the domain.
void release_domain(Domain& d);

namespace detail {
extern Domain* registry_slots[max_domains];
void registry_lock();
void registry_unlock();
}  // namespace detail

template <typename F> void registry_for_each(uint64_t first_id, F&& f)
{
    detail::registry_lock();
    for (uint32_t i = 0; i < max_domains; ++i) {
        Domain* d = detail::registry_slots[i];
        if (d && d->id >= first_id && !f(static_cast<const Domain&>(*d))) break;
    }
    detail::registry_unlock();
}

}  // namespace hv
