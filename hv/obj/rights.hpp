// Capability rights: the bits a handle carries, checked by CapTable::lookup
// against what each hypercall needs. The hypercall ABI header mirrors these
// values for Dom0, so they are fixed: never renumber one, only add new bits
// above the last (and extend rights_all). Each right means the same thing for
// every object type; a type that has no use for a right ignores it.
#pragma once

#include <cstdint>

namespace hv::obj {

using Rights = uint32_t;

// Query the object's state: domain info, vCPU registers, event-channel
// status, a region's contents through a copy hypercall.
inline constexpr Rights right_read = 1u << 0;
// Change the object's state: vCPU registers, a region's contents, device or
// domain configuration.
inline constexpr Rights right_write = 1u << 1;
// Map the object (a region, a device's MMIO) into an address space. Separate
// from read/write because a mapping outlives the hypercall that made it.
inline constexpr Rights right_map = 1u << 2;
// Life cycle and binding: create vCPUs in a domain, pause/unpause/destroy it,
// bind or close its event channels, assign a device. The "owner" right.
inline constexpr Rights right_manage = 1u << 3;
// Raise an event: send on an event channel, kick a vCPU or thread. Kept apart
// from write so a backend can be handed "notify only".
inline constexpr Rights right_signal = 1u << 4;
// Duplicate the handle within the same table (CapTable::duplicate), with the
// same or fewer rights.
inline constexpr Rights right_dup = 1u << 5;
// Move the handle to another domain's table (CapTable::transfer). Without it
// a capability stays in the domain it was given to.
inline constexpr Rights right_transfer = 1u << 6;

inline constexpr Rights rights_none = 0;
inline constexpr Rights rights_all =
    right_read | right_write | right_map | right_manage | right_signal | right_dup | right_transfer;

// The ABI fixes these numbers.
static_assert(right_read == 0x01 && right_write == 0x02 && right_map == 0x04 && right_manage == 0x08);
static_assert(right_signal == 0x10 && right_dup == 0x20 && right_transfer == 0x40);
static_assert(rights_all == 0x7f);

// True if `r` holds every bit of `need`.
constexpr bool has_rights(Rights r, Rights need) { return (r & need) == need; }

}  // namespace hv::obj
