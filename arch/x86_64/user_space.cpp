#include "arch/x86_64/user_space.hpp"

#include <new>

#include "arch/x86_64/address_space.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/kernel_heap.hpp"

namespace arch {
namespace {

struct UserEnv {
    lib::Result<uint64_t> alloc_table()
    {
        uint64_t phys = TRY(hv::mem::alloc_frames({}));
        auto* t = phys_to_virt<uint64_t>(phys);
        for (int i = 0; i < 512; ++i) t[i] = 0;
        return phys;
    }
    uint64_t* table(uint64_t phys) { return phys_to_virt<uint64_t>(phys); }
};
UserEnv user_env;

using UserTable = PageTable<UserEnv>;

UserTable table_of(uint64_t root) { return UserTable(user_env, root, paging_features().nx, false); }

bool user_range(uint64_t va, uint64_t size) { return size <= user_top && va <= user_top - size; }

// Frees owned leaves (software bit 0) and the tables below a lower-half
// entry of the root, level by level.
void free_subtree(uint64_t table_phys, int level)
{
    auto* t = phys_to_virt<uint64_t>(table_phys);
    for (unsigned i = 0; i < 512; ++i) {
        uint64_t e = t[i];
        if (!(e & pte::present)) continue;
        bool leaf = level == 0 || (level <= 2 && (e & pte::large));
        if (leaf) {
            if (e & pte::soft0) {
                uint64_t pa = X86Format::leaf_addr(e, level) & ~(level_size(level) - 1);
                (void)hv::mem::free_frames(pa, level_size(level) / page_size);
            }
            continue;
        }
        free_subtree(e & pte::addr_mask, level - 1);
    }
    (void)hv::mem::free_frames(table_phys, 1);
}

}  // namespace

lib::Result<UserSpace*> UserSpace::create()
{
    void* mem = hv::mem::kernel_heap().allocate(sizeof(UserSpace), alignof(UserSpace));
    if (!mem) return lib::err(lib::Error::no_memory);
    auto* s = new (mem) UserSpace;
    auto root = user_env.alloc_table();
    if (!root) {
        hv::mem::kernel_heap().deallocate(mem, sizeof(UserSpace));
        return lib::err(root.error());
    }
    s->root_ = *root;
    // The kernel's upper half: the same PDPTs, so kernel mappings made later
    // below an existing top-level entry are seen here too.
    auto* r = phys_to_virt<uint64_t>(s->root_);
    auto* k = phys_to_virt<uint64_t>(kernel_cr3());
    for (int i = 256; i < 512; ++i) r[i] = k[i];
    return s;
}

void UserSpace::destroy(UserSpace* s)
{
    if (!s) return;
    auto* r = phys_to_virt<uint64_t>(s->root_);
    for (int i = 0; i < 256; ++i)
        if (r[i] & pte::present) free_subtree(r[i] & pte::addr_mask, 2);
    (void)hv::mem::free_frames(s->root_, 1);
    s->~UserSpace();
    hv::mem::kernel_heap().deallocate(s, sizeof(UserSpace));
}

lib::Status UserSpace::map(uint64_t va, uint64_t pa, uint64_t size, MapAttr attr, bool owned)
{
    if (!user_range(va, size)) return lib::err(lib::Error::out_of_range);
    attr.user = true;
    attr.global = false;
    attr.soft0 = owned;
    auto t = table_of(root_);
    TRY(t.map(va, pa, size, attr));
    mapped_bytes_ += size;
    return {};
}

lib::Status UserSpace::map_fresh(uint64_t va, uint64_t size, MapAttr attr)
{
    if ((va | size) & (page_size - 1)) return lib::err(lib::Error::invalid);
    if (!user_range(va, size)) return lib::err(lib::Error::out_of_range);
    for (uint64_t off = 0; off < size; off += page_size) {
        uint64_t frame = TRY(hv::mem::alloc_frames({}));
        auto* p = phys_to_virt<uint64_t>(frame);
        for (int i = 0; i < 512; ++i) p[i] = 0;
        auto s = map(va + off, frame, page_size, attr, true);
        if (!s.ok()) {
            (void)hv::mem::free_frames(frame, 1);
            return s;
        }
    }
    return {};
}

lib::Status UserSpace::unmap(uint64_t va, uint64_t size)
{
    if (!user_range(va, size)) return lib::err(lib::Error::out_of_range);
    auto t = table_of(root_);
    // Owned frames go back to the allocator.
    for (uint64_t off = 0; off < size; off += page_size) {
        auto tr = t.translate(va + off);
        if (tr && tr->attr.soft0 && tr->page_size == page_size) {
            (void)hv::mem::free_frames(tr->phys, 1);
            mapped_bytes_ -= page_size;
        }
    }
    TRY(t.unmap(va, size));
    ++generation_;
    // This CPU's stale translations go now; others reload when they next
    // run a thread of this space (enter_thread_context compares generations).
    if (read_cr3() == root_) write_cr3(root_);
    return {};
}

lib::Result<uint64_t> UserSpace::translate(uint64_t va, bool write) const
{
    if (va >= user_top) return lib::err(lib::Error::denied);
    auto tr = TRY(table_of(root_).translate(va));
    if (!tr.attr.user || (write && !tr.attr.write)) return lib::err(lib::Error::denied);
    return tr.phys;
}

lib::Status UserSpace::check(uint64_t uva, size_t len, bool write) const
{
    if (len == 0) return {};
    if (!user_range(uva, len)) return lib::err(lib::Error::denied);
    for (uint64_t p = uva & ~(page_size - 1); p < uva + len; p += page_size) {
        auto r = translate(p, write);
        if (!r) return lib::err(lib::Error::denied);
    }
    return {};
}

lib::Status UserSpace::copy_in(void* dst, uint64_t uva, size_t len) const
{
    TRY(check(uva, len, false));
    auto* d = static_cast<uint8_t*>(dst);
    while (len) {
        uint64_t pa = TRY(translate(uva, false));
        size_t n = page_size - (uva & (page_size - 1));
        if (n > len) n = len;
        __builtin_memcpy(d, phys_to_virt<const uint8_t>(pa), n);
        d += n;
        uva += n;
        len -= n;
    }
    return {};
}

lib::Status UserSpace::copy_out(uint64_t uva, const void* src, size_t len) const
{
    TRY(check(uva, len, true));
    auto* s = static_cast<const uint8_t*>(src);
    while (len) {
        uint64_t pa = TRY(translate(uva, true));
        size_t n = page_size - (uva & (page_size - 1));
        if (n > len) n = len;
        __builtin_memcpy(phys_to_virt<uint8_t>(pa), s, n);
        s += n;
        uva += n;
        len -= n;
    }
    return {};
}

}  // namespace arch
