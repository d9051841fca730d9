// xl snapshot-create, -list, -revert, -delete: live snapshots of a Linux
// domain's writable disks on host volumes (vmm/block/chain does the layers,
// DomainDisks applies them to every disk at once). Taking and deleting a
// snapshot pause the guest for the moment its disks switch layers, under
// the registry's lock as the device models run, so no request is half
// served. Reverting restarts the domain from the snapshot's disks: its
// memory was not part of the snapshot. Dom0 only.
#include <new>

#include "lib/log.hpp"
#include "vmm/control/domains.hpp"
#include "vmm/hostdev/host_devices.hpp"
#include "vmm/rt/hypercall.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm {

using hv::abi::Status;

namespace {

Status status_of(const lib::Status& s)
{
    if (s.ok()) return Status::ok;
    return s.error() == lib::Error::not_found ? Status::not_found : Status::invalid;
}

uint64_t unix_now()
{
    hv::abi::SystemInfo si{};
    return hc::system_info(si).ok() ? si.wall_clock_ns / 1'000'000'000ull : 0;
}

}  // namespace

Status Domains::snapshot(uint32_t id, xl::SnapshotOp op, lib::StrView name, xl::Output& out, uint32_t* new_id)
{
    GuestDomain* next = nullptr;
    {
        LockGuard l(lock_);
        GuestDomain* g = by_id(id);
        if (!g) return Status::not_found;
        if (!g->pc) return Status::unsupported;
        if (!g->disks) {
            out.print("xl: domain %u has no disks\n", id);
            return Status::not_found;
        }
        if (op == xl::SnapshotOp::list) {
            g->disks->snapshot_list(out);
            return Status::ok;
        }
        if (op != xl::SnapshotOp::revert) {
            // Paused unless it was already (by xl pause, or created -p).
            const bool paused_here = hc::domain_pause(g->handle).ok();
            const lib::Status s = op == xl::SnapshotOp::create ? g->disks->snapshot_create(name, unix_now(), out)
                                                               : g->disks->snapshot_delete(name, out);
            if (paused_here) (void)hc::domain_unpause(g->handle);
            if (s.ok())
                LOG_INFO("domain %u: snapshot '%.*s' %s", id, int(name.size()), name.data(),
                         op == xl::SnapshotOp::create ? "taken" : "deleted");
            return status_of(s);
        }
        if (!g->disks->has_snapshot(name)) {
            out.print("xl: no disk of domain %u has snapshot '%.*s'\n", id, int(name.size()), name.data());
            return Status::not_found;
        }
        // The domain comes back as it was created: the same configuration,
        // xl create's key=value overrides included.
        void* mem = heap().allocate(sizeof(GuestDomain), alignof(GuestDomain));
        if (!mem) {
            out.print("xl: out of memory in Dom0\n");
            return Status::no_memory;
        }
        next = new (mem) GuestDomain;
        next->cfg = g->cfg;
        lib::copy_cstr(next->cfg_path, sizeof next->cfg_path, g->cfg_path);
    }
    if (auto s = destroy(id); s != Status::ok) {
        out.print("xl: cannot destroy domain %u to revert it: %s\n", id, hv::abi::status_name(s));
        forget(next);
        return s;
    }
    // Its disks are closed now; the volumes go back to the snapshot.
    void* dm = heap().allocate(sizeof(DomainDisks), alignof(DomainDisks));
    lib::Status r = lib::Error::no_memory;
    if (dm) {
        auto* disks = new (dm) DomainDisks(*files_, heap(), &hostdev::host_disks());
        r = disks->revert(next->cfg, name, out);
        disks->~DomainDisks();
        heap().deallocate(dm, sizeof(DomainDisks));
    } else {
        out.print("xl: out of memory in Dom0\n");
    }
    if (!r.ok()) out.print("xl: domain %u is restarted with its disks as they are\n", id);
    auto created = launch(next, false, out);
    if (!created) return Status::invalid;
    if (new_id) *new_id = *created;
    LOG_INFO("domain %u reverted to snapshot '%.*s': now domain %u", id, int(name.size()), name.data(), *created);
    return r.ok() ? Status::ok : Status::invalid;
}

}  // namespace vmm
