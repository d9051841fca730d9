#include "vmm/hostdev/host_devices.hpp"

#include <new>

#include "drivers/ahci/ahci.hpp"
#include "drivers/e1000e/e1000e.hpp"
#include "drivers/nvme/nvme.hpp"
#include "drivers/pci/pci_function.hpp"
#include "drivers/virtio/virtio_blk_disk.hpp"
#include "drivers/virtio/virtio_net_nic.hpp"
#include "lib/format.hpp"
#include "vmm/hostdev/disk_file.hpp"
#include "vmm/hostdev/hv_platform.hpp"
#include "vmm/rt/lock.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm::hostdev {
namespace {

constexpr unsigned max_functions = 64;
constexpr size_t bounce_bytes = 128 * 1024;  // one device request: the drivers' max_sectors fit

// Dom0's shell thread (xl create opening an image) and its device-model
// thread (a guest's virtio-blk queue) share the disks.
class LockGate final : public DiskGate {
public:
    void enter() override { lock_.lock(); }
    void leave() override { lock_.unlock(); }

private:
    Lock lock_;
};

struct HostDisk {
    drivers::pci::FunctionConfig* config = nullptr;
    drivers::BlockDevice* dev = nullptr;
    DiskFile* file = nullptr;
    LockGate gate;
};

HvPciBus* bus;
HvPlatform* platform;
HostDisks* disks;
HostDisk found[HostDisks::max_disks];
unsigned found_count;
drivers::Nic* nic;

template <typename T, typename... A> T* make(A&&... args)
{
    void* p = heap().allocate(sizeof(T), alignof(T));
    return p ? new (p) T(static_cast<A&&>(args)...) : nullptr;
}

const char* class_name(uint32_t cls)
{
    switch (cls >> 8) {
    case 0x0100: return "SCSI storage";
    case 0x0101: return "IDE";
    case 0x0106: return "SATA (AHCI)";
    case 0x0108: return "NVM Express";
    case 0x0200: return "Ethernet";
    case 0x0300: return "VGA";
    case 0x0600: return "host bridge";
    case 0x0601: return "ISA bridge";
    case 0x0680: return "bridge";
    case 0x0c03: return "USB";
    case 0x0c05: return "SMBus";
    default: return "";
    }
}

void add_disk(const char* kind, drivers::pci::FunctionConfig* cfg, drivers::BlockDevice* dev, xl::Output& log,
              const char* where = nullptr)
{
    HostDisk& h = found[found_count];
    auto bounce = platform->alloc_dma(bounce_bytes);
    if (!bounce) {
        log.print("dom0: no DMA memory for a disk: %s\n", lib::error_name(bounce.error()));
        return;
    }
    h.config = cfg;
    h.dev = dev;
    h.file = make<DiskFile>(*dev, *platform, *bounce, &h.gate);
    if (!h.file) return;
    const char* name = nullptr;
    auto added = disks->add_disk(kind, *dev, *h.file, &name);
    if (!added.ok() && !name) {
        log.print("dom0: cannot register a %s disk: %s\n", kind, lib::error_name(added.error()));
        return;
    }
    ++found_count;
    const drivers::BlockInfo& in = dev->info();
    log.print("dom0: disk %s: %s, %lu sectors of %u bytes (%lu MiB)%s%s%s%s\n", name, in.model, in.sectors,
              in.sector_size, in.sectors * in.sector_size >> 20, in.serial[0] ? ", serial " : "", in.serial,
              in.writable ? "" : ", read-only", in.volatile_cache ? ", write cache" : "");
    if (where) log.print("dom0:   %s: %s\n", name, where);
    if (!added.ok())
        log.print("dom0:   %s: its partition table is unusable (%s): only the whole disk is offered\n", name,
                  disks->table_problem() ? disks->table_problem() : lib::error_name(added.error()));
    else if (disks->used_backup_table())
        log.print("dom0:   %s: the primary GPT is damaged (%s); using the backup\n", name, disks->table_problem());
    for (size_t i = 0; i < disks->volume_count(); ++i) {
        const HostDisks::Volume& v = disks->volume(i);
        if (v.disk + 1 == disks->disk_count() && v.partition)
            log.print("dom0:   %s: %lu MiB at sector %lu%s%s\n", v.name, v.size >> 20, v.offset / in.sector_size,
                      v.label[0] ? ", " : "", v.label);
    }
}

// An AHCI HBA offers a disk per port with an ATA disk on it.
void bring_up_ahci(const drivers::pci::FunctionId& id, drivers::pci::FunctionConfig& cfg, drivers::pci::Function& fn,
                   xl::Output& log)
{
    auto* hba = make<drivers::ahci::AhciHba>();
    if (!hba) return;
    auto s = hba->init(fn, *platform);
    for (unsigned p = 0; p < drivers::ahci::max_ports; ++p)
        if (lib::Error e = hba->port_problem(p); e != lib::Error::none)
            log.print("dom0: %02x:%02x.%x: AHCI port %u: no disk (%s)\n", id.bdf >> 8, (id.bdf >> 3) & 31, id.bdf & 7, p,
                      e == lib::Error::unsupported ? "not an ATA disk" : lib::error_name(e));
    if (!s.ok()) {
        if (s.error() != lib::Error::not_found)
            log.print("dom0: %02x:%02x.%x: AHCI: %s\n", id.bdf >> 8, (id.bdf >> 3) & 31, id.bdf & 7,
                      lib::error_name(s.error()));
        return;
    }
    for (unsigned i = 0; i < hba->disk_count() && found_count < HostDisks::max_disks; ++i) {
        drivers::ahci::AhciDisk& d = hba->disk(i);
        char where[64];
        if (d.queued()) lib::format(where, sizeof where, "AHCI port %u, NCQ with %u slots", d.port(), d.slots());
        else lib::format(where, sizeof where, "AHCI port %u, no command queuing", d.port());
        add_disk("sd", &cfg, &d, log, where);
    }
}

void probe_function(const drivers::pci::FunctionId& id, xl::Output& log)
{
    if (found_count == HostDisks::max_disks) return;
    auto* cfg = make<drivers::pci::FunctionConfig>(*bus, id.bdf);
    if (!cfg) return;
    drivers::pci::Function fn(*cfg);
    auto bring_up = [&](auto* d, const char* what, const char* kind) {
        if (!d) return;
        if (auto s = d->init(fn, *platform); !s.ok()) {
            log.print("dom0: %02x:%02x.%x: %s: %s\n", id.bdf >> 8, (id.bdf >> 3) & 31, id.bdf & 7, what,
                      lib::error_name(s.error()));
            return;
        }
        add_disk(kind, cfg, d, log);
    };
    // The first NIC a driver takes is the uplink (eth0).
    auto bring_up_nic = [&](auto* n, const char* what) {
        if (!n) return;
        if (auto s = n->init(fn, *platform); !s.ok()) {
            log.print("dom0: %02x:%02x.%x: %s: %s\n", id.bdf >> 8, (id.bdf >> 3) & 31, id.bdf & 7, what,
                      lib::error_name(s.error()));
            return;
        }
        nic = n;
        const uint8_t* m = n->mac();
        log.print("dom0: nic eth0: %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s\n", what, m[0], m[1], m[2], m[3],
                  m[4], m[5], n->link_up() ? "up" : "down");
    };
    if (drivers::virtio::VirtioPciDevice::device_type(fn) == 2)
        bring_up(make<drivers::virtio::VirtioBlkDisk>(), "virtio-blk", "vd");
    else if (drivers::virtio::VirtioPciDevice::device_type(fn) == 1 && !nic)
        bring_up_nic(make<drivers::virtio::VirtioNetNic>(), "virtio-net");
    else if (drivers::e1000e::E1000eNic::supports(fn) && !nic)
        bring_up_nic(make<drivers::e1000e::E1000eNic>(), "e1000e");
    else if (id.class_code == 0x010802)
        bring_up(make<drivers::nvme::NvmeDisk>(), "NVMe", "nvme");
    else if (id.class_code == drivers::ahci::class_code)
        bring_up_ahci(id, *cfg, fn, log);
}

}  // namespace

drivers::Nic* host_nic() { return nic; }

HostDisks& host_disks()
{
    if (!disks) disks = make<HostDisks>(heap());
    return *disks;
}

void probe_host_devices(uint32_t control, xl::Output& log)
{
    (void)host_disks();
    bus = make<HvPciBus>(control);
    platform = make<HvPlatform>(control);
    if (!bus || !platform || !disks) return;
    static drivers::pci::FunctionId ids[max_functions];
    size_t n = drivers::pci::scan(*bus, ids, max_functions);
    if (n > max_functions) n = max_functions;
    for (size_t i = 0; i < n; ++i) {
        const auto& f = ids[i];
        log.print("dom0: pci %02x:%02x.%x [%04x:%04x] class %06x %s\n", f.bdf >> 8, (f.bdf >> 3) & 31, f.bdf & 7,
                  f.vendor, f.device, f.class_code, class_name(f.class_code));
    }
    for (size_t i = 0; i < n; ++i) probe_function(ids[i], log);
}

}  // namespace vmm::hostdev
