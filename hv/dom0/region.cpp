// Region hypercalls: create, map into the caller, grant into a domain.
#include "hv/dom0/region.hpp"

#include <new>

#include "arch/x86_64/layout.hpp"
#include "hv/dom0/hypercall_args.hpp"
#include "hv/dom0/hypercall_internal.hpp"
#include "hv/domain/domain.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/kernel_heap.hpp"
#include "hv/vcpu/vcpu.hpp"

namespace hv {

void release_region(Region& r)
{
    if (!r.kobj.release()) return;
    (void)mem::free_frames(r.pa, r.size / arch::page_size);
    r.~Region();
    mem::kernel_heap().deallocate(&r, sizeof(Region));
}

void release_grants(Domain& d)
{
    for (size_t i = 0; i < d.grant_count; ++i) release_region(*d.grants[i].region);
    d.grant_count = 0;
}

namespace hc {

using abi::Status;

Reply region_create(Thread& t, uint64_t size)
{
    if (size == 0 || size & (arch::page_size - 1) || size > max_region_size) return fail(Status::invalid);
    void* mem = mem::kernel_heap().allocate(sizeof(Region), alignof(Region));
    if (!mem) return fail(Status::no_memory);
    auto* r = new (mem) Region;
    auto pa = mem::alloc_frames({.count = size / arch::page_size});
    if (!pa) {
        mem::kernel_heap().deallocate(r, sizeof(Region));
        return fail(Status::no_memory);
    }
    r->pa = *pa;
    r->size = size;
    __builtin_memset(arch::phys_to_virt<void>(r->pa), 0, size);
    obj::Handle handle = obj::invalid_handle;
    lib::Error e = lib::Error::none;
    {
        arch::SpinGuard g(t.pd->lock);
        auto h = t.pd->caps.insert(&r->kobj, obj::rights_all);
        if (h) handle = *h;
        else e = h.error();
    }
    release_region(*r);  // the creator's reference: the handle holds its own now (or nothing does)
    if (e != lib::Error::none) return fail(e);
    return {Status::ok, handle};
}

Reply region_map(Thread& t, uint64_t h, uint64_t va, uint64_t flags)
{
    auto rr = lookup<Region>(*t.pd, h, obj::ObjType::region, obj::right_map);
    if (!rr) return fail(rr.error());
    Region& r = **rr;
    if (auto st = check_map_args(0, r.size, va, flags, r.size); st != Status::ok) return fail(st);
    Pd& pd = *t.pd;
    if (!r.kobj.retain()) return fail(Status::not_found);  // the mapping's reference
    GuestMapping* slot = reserve_mapping(pd, {va, 0, nullptr, &r, false});
    if (!slot) {
        release_region(r);
        return fail(Status::no_memory);
    }
    if (auto s = pd.space->map(va, r.pa, r.size, {.write = bool(flags & 1)}, false); !s.ok()) {
        cancel_mapping(pd, *slot);
        release_region(r);
        return fail(s.error());
    }
    commit_mapping(pd, *slot, r.size);
    return {};
}

Reply region_grant(Thread& t, uint64_t h, uint64_t dom, uint64_t gpa, uint64_t flags)
{
    auto rr = lookup<Region>(*t.pd, h, obj::ObjType::region, obj::right_transfer);
    if (!rr) return fail(rr.error());
    auto dr = lookup<Domain>(*t.pd, dom, obj::ObjType::domain, obj::right_manage);
    if (!dr) return fail(dr.error());
    Region& r = **rr;
    Domain& d = **dr;
    if (d.dead) return fail(Status::not_found);
    if (flags & ~1ull || gpa & (arch::page_size - 1) || gpa + r.size < gpa || gpa + r.size > (1ull << 46))
        return fail(Status::invalid);
    for (uint64_t a = gpa; a < gpa + r.size; a += arch::page_size)
        if (find_mmio_handler(d, a) || mmio_forwarded(d, a) || d.p2m.translate(a)) return fail(Status::exists);
    if (d.grant_count == Domain::max_grants) return fail(Status::no_memory);
    if (!r.kobj.retain()) return fail(Status::not_found);
    if (auto s = d.p2m.map(gpa, r.pa, r.size, flags & 1, false, false); !s.ok()) {
        release_region(r);
        return fail(s.error());
    }
    d.grants[d.grant_count++] = {gpa, &r};
    return {};
}

}  // namespace hc
}  // namespace hv
