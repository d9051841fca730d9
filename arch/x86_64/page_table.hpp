// 4-level x86-64 page tables (SDM Vol. 3A 4.5): a builder templated over where
// table frames come from, so the same code maps the hypervisor's own address
// space and runs in host unit tests against an arena. Large pages (2 MiB, and
// 1 GiB when the CPU has them) are used wherever alignment allows; partial
// unmaps split them.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace arch {

namespace pte {
inline constexpr uint64_t present = 1ull << 0;
inline constexpr uint64_t write = 1ull << 1;
inline constexpr uint64_t user = 1ull << 2;
inline constexpr uint64_t pwt = 1ull << 3;
inline constexpr uint64_t pcd = 1ull << 4;
inline constexpr uint64_t accessed = 1ull << 5;
inline constexpr uint64_t dirty = 1ull << 6;
inline constexpr uint64_t large = 1ull << 7;  // PS in a PDPTE/PDE
inline constexpr uint64_t global = 1ull << 8;
inline constexpr uint64_t soft0 = 1ull << 9;  // available to software
inline constexpr uint64_t large_pat = 1ull << 12;  // PAT bit position in large-page entries
inline constexpr uint64_t no_exec = 1ull << 63;
inline constexpr uint64_t addr_mask = 0x000ffffffffff000ull;
inline constexpr uint64_t large_addr_mask = 0x000fffffffffe000ull;  // excludes the large-page PAT bit
}  // namespace pte

struct MapAttr {
    bool write = false;
    bool exec = false;
    bool user = false;
    bool uncached = false;
    bool global = false;
    // Software bit 9 of an x86 leaf (ignored by EPT): the user address space
    // marks frames it owns with it.
    bool soft0 = false;
    constexpr bool operator==(const MapAttr&) const = default;
};

struct Translation {
    uint64_t phys;
    uint64_t page_size;
    MapAttr attr;
};

// Where table frames come from. alloc_table returns a zeroed 4 KiB frame;
// table(phys) gives a writable pointer to it.
template <typename E>
concept PageTableEnv = requires(E& e, uint64_t phys) {
    { e.alloc_table() } -> std::same_as<lib::Result<uint64_t>>;
    { e.table(phys) } -> std::same_as<uint64_t*>;
};

inline constexpr uint64_t level_size(int level) { return 1ull << (12 + 9 * level); }  // level 0 = 4K PTE
inline constexpr unsigned level_index(uint64_t va, int level) { return (va >> (12 + 9 * level)) & 511; }
inline constexpr bool is_canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}


// Entry formats. X86Format: the CPU's own 4-level paging (also AMD nested
// paging, where every guest access counts as a user access: NptFormat sets
// U on leaves). EptFormat: Intel EPT (SDM Vol. 3C 29.3.2).
struct X86Format {
    bool nx = true;  // EFER.NXE on: bit 63 usable
    static constexpr bool force_user = false;
    static bool present(uint64_t e) { return e & pte::present; }
    static bool large(uint64_t e) { return e & pte::large; }
    static uint64_t table_entry(uint64_t phys) { return phys | pte::present | pte::write | pte::user; }
    uint64_t leaf(uint64_t pa, MapAttr a, int level, bool user_forced) const
    {
        uint64_t e = pa | pte::present;
        if (a.write) e |= pte::write;
        if (a.user || user_forced) e |= pte::user;
        if (a.uncached) e |= pte::pcd | pte::pwt;
        if (a.global) e |= pte::global;
        if (a.soft0) e |= pte::soft0;
        if (!a.exec && nx) e |= pte::no_exec;
        if (level > 0) e |= pte::large;
        return e;
    }
    static MapAttr attr_of(uint64_t e)
    {
        MapAttr a;
        a.write = e & pte::write;
        a.user = e & pte::user;
        a.uncached = e & pte::pcd;
        a.global = e & pte::global;
        a.soft0 = e & pte::soft0;
        a.exec = !(e & pte::no_exec);
        return a;
    }
    // Address bits of a leaf at `level` (large pages keep PAT at bit 12).
    static uint64_t leaf_addr(uint64_t e, int level) { return e & (level == 0 ? pte::addr_mask : pte::large_addr_mask); }
    // A split child inherits everything but the address (and PS/PAT placement).
    static uint64_t child_of_large(uint64_t e, uint64_t child_pa, int child_level)
    {
        uint64_t flags = e & ~pte::large_addr_mask & ~pte::large;
        bool pat = e & pte::large_pat;
        uint64_t c = child_pa | flags;
        if (child_level > 0) c |= pte::large | (pat ? pte::large_pat : 0);
        else if (pat) c |= pte::large;  // PAT is bit 7 in a 4K PTE
        return c;
    }
};

struct NptFormat : X86Format {
    static constexpr bool force_user = true;
};

namespace ept {
inline constexpr uint64_t read = 1ull << 0;
inline constexpr uint64_t write = 1ull << 1;
inline constexpr uint64_t exec = 1ull << 2;
inline constexpr uint64_t memtype_shift = 3;  // leaf: bits 5:3
inline constexpr uint64_t memtype_uc = 0;
inline constexpr uint64_t memtype_wb = 6;
inline constexpr uint64_t ignore_pat = 1ull << 6;
inline constexpr uint64_t large = 1ull << 7;
}  // namespace ept

struct EptFormat {
    static constexpr bool force_user = false;
    static bool present(uint64_t e) { return e & (ept::read | ept::write | ept::exec); }
    static bool large(uint64_t e) { return e & ept::large; }
    static uint64_t table_entry(uint64_t phys) { return phys | ept::read | ept::write | ept::exec; }
    uint64_t leaf(uint64_t pa, MapAttr a, int level, bool) const
    {
        uint64_t e = pa | ept::read;
        if (a.write) e |= ept::write;
        if (a.exec) e |= ept::exec;
        e |= (a.uncached ? ept::memtype_uc : ept::memtype_wb) << ept::memtype_shift;
        if (level > 0) e |= ept::large;
        return e;
    }
    static MapAttr attr_of(uint64_t e)
    {
        MapAttr a;
        a.write = e & ept::write;
        a.exec = e & ept::exec;
        a.uncached = ((e >> ept::memtype_shift) & 7) == ept::memtype_uc;
        return a;
    }
    static uint64_t leaf_addr(uint64_t e, int) { return e & pte::addr_mask; }
    static uint64_t child_of_large(uint64_t e, uint64_t child_pa, int child_level)
    {
        uint64_t c = child_pa | (e & 0xfffull & ~ept::large) | (e & (1ull << 63));
        if (child_level > 0) c |= ept::large;
        return c;
    }
};

template <PageTableEnv Env, typename Format = X86Format> class PageTable {
public:
    // nx: EFER.NXE is on (otherwise bit 63 is reserved and must stay 0).
    // gb_pages: CPUID.80000001h:EDX[26] (1 GiB pages).
    PageTable(Env& env, uint64_t root_phys, bool nx, bool gb_pages)
        : env_(env), root_(root_phys), gb_pages_(gb_pages)
    {
        if constexpr (requires { format_.nx; }) format_.nx = nx;
    }

    static lib::Result<PageTable> create(Env& env, bool nx, bool gb_pages)
    {
        uint64_t root = TRY(env.alloc_table());
        return PageTable(env, root, nx, gb_pages);
    }

    uint64_t root() const { return root_; }

    // Maps [va, va+size) to [pa, pa+size). Everything 4 KiB aligned. Fails
    // with Error::exists (nothing changed for the conflicting page onward) if
    // part of the range is already mapped.
    lib::Status map(uint64_t va, uint64_t pa, uint64_t size, MapAttr attr)
    {
        if ((va | pa | size) & 0xfff) return lib::err(lib::Error::invalid);
        if (size == 0) return {};
        if (!is_canonical(va) || !is_canonical(va + size - 1)) return lib::err(lib::Error::invalid);
        while (size) {
            int level = 0;
            for (int l = gb_pages_ ? 2 : 1; l >= 1; --l) {
                uint64_t s = level_size(l);
                if ((va & (s - 1)) == 0 && (pa & (s - 1)) == 0 && size >= s) {
                    level = l;
                    break;
                }
            }
            uint64_t* e = TRY(walk_to(va, level, true));
            if (Format::present(*e)) return lib::err(lib::Error::exists);
            *e = format_.leaf(pa, attr, level, Format::force_user);
            va += level_size(level);
            pa += level_size(level);
            size -= level_size(level);
        }
        return {};
    }

    // Unmaps [va, va+size); holes are fine. Large pages that are only partly
    // inside the range are split first. Callers flush TLBs.
    lib::Status unmap(uint64_t va, uint64_t size)
    {
        if ((va | size) & 0xfff) return lib::err(lib::Error::invalid);
        uint64_t end = va + size;
        while (va < end) {
            uint64_t* e = nullptr;
            int level = 3;
            uint64_t* t = env_.table(root_);
            for (;; --level) {
                e = &t[level_index(va, level)];
                if (!Format::present(*e)) break;
                if (level == 0 || (level <= 2 && Format::large(*e))) break;
                t = env_.table(*e & pte::addr_mask);
            }
            uint64_t s = level_size(level);
            uint64_t base = va & ~(s - 1);
            if (!Format::present(*e)) {
                va = base + s;
                continue;
            }
            if (level > 0 && (base < va || base + s > end)) {
                TRY(split(e, level));
                continue;  // walk again into the new smaller pages
            }
            *e = 0;
            va = base + s;
        }
        return {};
    }

    lib::Result<Translation> translate(uint64_t va) const
    {
        if (!is_canonical(va)) return lib::err(lib::Error::invalid);
        uint64_t* t = env_.table(root_);
        for (int level = 3; level >= 0; --level) {
            uint64_t e = t[level_index(va, level)];
            if (!Format::present(e)) return lib::err(lib::Error::not_found);
            if (level == 0 || (level <= 2 && Format::large(e))) {
                uint64_t s = level_size(level);
                return Translation{(Format::leaf_addr(e, level) & ~(s - 1)) + (va & (s - 1)), s, Format::attr_of(e)};
            }
            t = env_.table(e & pte::addr_mask);
        }
        return lib::err(lib::Error::not_found);
    }

    // Calls f(table_phys) for every table frame, children before parents, the
    // root last: for giving the frames back when the address space goes.
    template <typename F> void for_each_table(F&& f) const { visit_tables(root_, 3, f); }

    // Calls f(va, phys, size, attr) for every leaf mapping, in address order.
    template <typename F> void for_each_leaf(F&& f) const { visit(root_, 3, 0, f); }

private:
    // Returns the entry for va at `level`, creating tables above it. A large
    // page in the way is an existing mapping: Error::exists.
    lib::Result<uint64_t*> walk_to(uint64_t va, int level, bool create)
    {
        uint64_t* t = env_.table(root_);
        for (int l = 3; l > level; --l) {
            uint64_t& e = t[level_index(va, l)];
            if (!Format::present(e)) {
                if (!create) return lib::err(lib::Error::not_found);
                uint64_t next = TRY(env_.alloc_table());
                // Intermediate entries are permissive; leaves restrict.
                e = Format::table_entry(next);
            } else if (l <= 2 && Format::large(e)) {
                return lib::err(lib::Error::exists);
            }
            t = env_.table(e & pte::addr_mask);
        }
        return &t[level_index(va, level)];
    }

    // Replaces a large-page entry at `level` with a table of the next level
    // down holding the same translation.
    lib::Status split(uint64_t* e, int level)
    {
        uint64_t next = TRY(env_.alloc_table());
        uint64_t* t = env_.table(next);
        uint64_t base = Format::leaf_addr(*e, level) & ~(level_size(level) - 1);
        uint64_t child_size = level_size(level - 1);
        for (unsigned i = 0; i < 512; ++i) t[i] = Format::child_of_large(*e, base + i * child_size, level - 1);
        *e = Format::table_entry(next);
        return {};
    }

    template <typename F> void visit_tables(uint64_t table_phys, int level, F& f) const
    {
        uint64_t* t = env_.table(table_phys);
        for (unsigned i = 0; level > 0 && i < 512; ++i) {
            uint64_t e = t[i];
            if (Format::present(e) && !(level <= 2 && Format::large(e))) visit_tables(e & pte::addr_mask, level - 1, f);
        }
        f(table_phys);
    }

    template <typename F> void visit(uint64_t table_phys, int level, uint64_t va_base, F& f) const
    {
        uint64_t* t = env_.table(table_phys);
        for (unsigned i = 0; i < 512; ++i) {
            uint64_t e = t[i];
            if (!Format::present(e)) continue;
            uint64_t va = va_base + i * level_size(level);
            if (level == 3 && i >= 256) va |= 0xffff000000000000ull;  // sign-extend
            if (level == 0 || (level <= 2 && Format::large(e))) {
                f(va, Format::leaf_addr(e, level), level_size(level), Format::attr_of(e));
            } else {
                visit(e & pte::addr_mask, level - 1, va, f);
            }
        }
    }

    Env& env_;
    uint64_t root_;
    Format format_{};
    bool gb_pages_;
};

}  // namespace arch
