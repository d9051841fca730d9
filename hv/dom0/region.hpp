// Shared-memory regions: frames hv allocates for sharing between domains.
// Dom0 creates one, maps it into its own address space and grants it into
// a guest's guest-physical space (rings, shared pages). The frames are
// freed when the last reference goes: the handle's, each mapping's, each
// grant's.
#pragma once

#include <cstdint>

#include "hv/obj/kobject.hpp"

namespace hv {

struct Region {
    obj::KObject kobj{obj::ObjType::region};  // first: capabilities name the region through it
    uint64_t pa;    // contiguous frames
    uint64_t size;  // bytes, whole pages
};

inline constexpr uint64_t max_region_size = 2ull << 20;

// Drops a reference; the last one frees the frames.
void release_region(Region& r);

}  // namespace hv
