// A ring-3 address space (Dom0's): its own lower half, the kernel's upper
// half shared. Pages are mapped eagerly (no demand paging), so hv reaches
// user memory by translating through these tables and copying via the direct
// map: a hypercall argument is checked page by page for presence, the user
// bit and write permission before any byte is touched, and a bad pointer is
// an error value, never a kernel fault.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/x86_64/page_table.hpp"
#include "lib/result.hpp"

namespace arch {

// User addresses are the canonical lower half minus the top page (so that
// SYSRET never returns to a non-canonical RIP, the SYSRET #GP erratum).
inline constexpr uint64_t user_top = 0x0000'7fff'ffff'f000ull;

class UserSpace {
public:
    // A fresh address space sharing the kernel's upper half.
    static lib::Result<UserSpace*> create();
    // Unmaps everything, gives back the tables and every frame mapped with
    // owned = true, and frees the object.
    static void destroy(UserSpace* s);

    uint64_t cr3() const { return root_; }

    // Maps [va, va+size) to [pa, pa+size) for ring 3. `owned`: the frames are
    // freed with the address space.
    lib::Status map(uint64_t va, uint64_t pa, uint64_t size, MapAttr attr, bool owned);
    // Backs [va, va+size) with fresh zeroed frames (owned).
    lib::Status map_fresh(uint64_t va, uint64_t size, MapAttr attr);
    lib::Status unmap(uint64_t va, uint64_t size);

    // Physical address of user byte va if ring 3 may access it (write: for
    // writing), else Error::denied / not_found.
    lib::Result<uint64_t> translate(uint64_t va, bool write) const;
    // Copies between the kernel and user memory; Error::denied if any byte is
    // not accessible for ring 3 as needed (nothing is copied then).
    lib::Status copy_in(void* dst, uint64_t uva, size_t len) const;
    lib::Status copy_out(uint64_t uva, const void* src, size_t len) const;
    // Checks [uva, uva+len) once, e.g. before a long copy loop.
    lib::Status check(uint64_t uva, size_t len, bool write) const;

    uint64_t mapped_bytes() const { return mapped_bytes_; }
    // Bumped by every unmap: a CPU that last ran this space at an older
    // generation must flush its TLB before running it again.
    uint64_t generation() const { return generation_; }

private:
    uint64_t generation_ = 1;
    uint64_t root_ = 0;
    uint64_t mapped_bytes_ = 0;
};

}  // namespace arch
