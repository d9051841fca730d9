// Dom0's domains: what `xl create` built (its configuration, its console
// ring, its device models) and what the life-cycle policies do when one
// stops. One device-model thread serves the forwarded port accesses of every
// domain; the shell thread creates, lists and destroys. Dom0 only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/abi/hypercall.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"
#include "drivers/net/nic.hpp"
#include "vmm/console/console_ring.hpp"
#include "vmm/control/domain_disks.hpp"
#include "vmm/control/xl.hpp"
#include "vmm/control/xl_cfg.hpp"
#include "vmm/devices/mmio_scratch.hpp"
#include "vmm/devices/uart16550.hpp"
#include "vmm/files/cpio.hpp"
#include "vmm/platform/legacy_isa.hpp"
#include "vmm/platform/net_function.hpp"
#include "vmm/platform/pc_platform.hpp"
#include "vmm/rt/lock.hpp"

namespace vmm {

struct GuestDomain final : platform::PlatformHost, platform::ExtIntSink {
    uint32_t id = 0;
    uint32_t handle = 0;
    DomainConfig cfg;
    char cfg_path[xl_path_size] = "";
    static constexpr size_t console_bytes = 64 * 1024;
    char console_storage[console_bytes];
    console::ConsoleRing console{console_storage, console_bytes, 16 * 1024};
    devices::Uart16550 uart{nullptr, nullptr};
    // Writes that need no answer go without round trips: COM1's THR, the
    // POST port and (Linux domains) the PCI configuration address are
    // buffered by hv (one of iobuf_events is raised when some are queued),
    // and COM1's LSR reads are latched (lsr_latched: the value published, -1
    // while withdrawn).
    uint32_t iobuf_events[3] = {};
    int lsr_latched = -1;
    devices::MmioScratch scratch;
    bool stop_handled = false;  // its on_poweroff/on_reboot/on_crash ran
    bool reboot_requested = false;  // it wrote the reset port: on_reboot applies
    bool acpi_poweroff = false;     // it entered S5 through the ACPI sleep registers
    uint32_t restarts = 0;
    // Attached `xl console`s: a destroyed domain's ring stays until the last
    // one has read it out.
    uint32_t console_readers = 0;
    bool destroyed = false;
    // The event loopback device: a doorbell port (a guest write raises
    // doorbell_port here without an exit to Dom0) answered with an interrupt
    // through irq_port. rings counts the doorbells seen.
    uint32_t doorbell_port = 0;
    uint32_t doorbell_mmio_port = 0;  // the same device's MMIO doorbell (0xfe001000)
    uint32_t irq_port = 0;
    uint64_t rings = 0;
    // The shared page: a region mapped here and granted to the guest at
    // 0xfd000000 (a signature and the domain id for the guest; the guest's
    // answer at offset 64 shows in the log when it stops).
    uint32_t shared_region = 0;
    uint8_t* shared = nullptr;
    // Linux domains (PVH, bzImage and plain ELF kernels): the PC platform
    // and the window onto the guest's RAM its virtio devices use.
    platform::PcPlatform* pc = nullptr;
    DomainDisks* disks = nullptr;  // its disk= images, as virtio-blk functions of pc
    uint8_t* ram = nullptr;
    uint64_t ram_size = 0;  // mapped at ram: its RAM below 3 GiB
    uint64_t ram_high = 0;  // and at ram + 4 GiB: its RAM from 4 GiB (builder/e820.hpp)
    // Its vifs (vif= of a Linux domain): virtio-net functions on its PCI
    // bus, each a port of xenbr0 (vmm/control/domain_vifs.cpp), indexed by
    // devid (vif i of the config is devid i; network-attach takes the
    // first free one, network-detach leaves a hole); vif_count is one past
    // the highest in use.
    platform::NetFunction* vifs[xl_max_vifs] = {};
    unsigned vif_ports[xl_max_vifs] = {};
    size_t vif_count = 0;
    // Multiboot domains: the 8259A pair, the PIT and port 0x61, with the
    // PIC's vectors into vCPU 0 (extint) and Dom0's next look at them.
    platform::LegacyIsa isa;

    // platform::PlatformHost: interrupts into this domain.
    void irq_line(unsigned gsi, bool level) override;
    void msi(uint64_t address, uint32_t data) override;
    // platform::ExtIntSink: false while hv still holds the last vector.
    bool extint(uint8_t vector) override;
};

class Domains {
public:
    static constexpr size_t max_domains = 64;

    void init(const files::CpioArchive* files, uint32_t control);
    files::CpioArchive const* files() const { return files_; }

    // xl create: parse, check, build, start (unless paused). Messages go to
    // `out` in xl's words. Returns the domain id.
    lib::Result<uint32_t> create(lib::StrView cfg_path, const lib::StrView* overrides, size_t override_count, bool paused,
                                 xl::Output& out);
    // By name or id. not_found if none.
    lib::Result<uint32_t> find(lib::StrView name_or_id);
    hv::abi::Status destroy(uint32_t id);
    hv::abi::Status pause(uint32_t id, bool pause);
    hv::abi::Status sched(uint32_t id, uint64_t weight, uint64_t cap);
    size_t list(xl::DomainRow* rows, size_t cap);
    size_t vcpus(uint32_t id, xl::VcpuRow* rows, size_t cap);
    size_t disks(uint32_t id, xl::DiskRow* rows, size_t cap);
    // xl console: attach (false if no such domain), read from `cursor`
    // (returns the next cursor; *gone once the domain is destroyed and
    // everything it printed was read), detach.
    bool attach_console(uint32_t id);
    uint64_t read_console(uint32_t id, uint64_t cursor, char* out, size_t cap, size_t* len, bool* gone);
    void detach_console(uint32_t id);
    bool send_console_input(uint32_t id, char c);
    // Its state as hv reports it (false: no such domain).
    bool info(uint32_t id, hv::abi::DomainInfo& out);
    bool powered_off_by_acpi(uint32_t id);
    bool exits(uint32_t id, hv::abi::ExitCounts& out);
    hv::abi::Status pin(uint32_t id, uint32_t vcpu, uint32_t cpu);
    hv::abi::Status nmi(uint32_t id, uint32_t vcpu);
    hv::abi::Status reset(uint32_t id);
    // The ACPI power button (xl trigger power, xl shutdown -F): unsupported
    // for a domain without the PC platform (no ACPI).
    hv::abi::Status power_button(uint32_t id);
    hv::abi::Status sysrq(uint32_t id, char key);
    // xl network-list: its vifs and their bridge counters.
    size_t network(uint32_t id, xl::VifRow* rows, size_t cap);

    // PCI hotplug into a running Linux domain (domain_hotplug.cpp):
    // xl block-attach and network-attach plug a device in (messages on
    // `out`); the detaches ask the guest to eject it (not_found: no such
    // device; unsupported: no PC platform) and the backend goes once the
    // guest has ejected it, whenever that is (disk_present / vif_present
    // turn false then).
    hv::abi::Status attach_disk(uint32_t id, const DiskConfig& d, xl::Output& out);
    hv::abi::Status detach_disk(uint32_t id, uint32_t devid);
    // xl block-detach -f: out at once, the guest told afterwards.
    hv::abi::Status pull_disk(uint32_t id, uint32_t devid);
    bool disk_present(uint32_t id, uint32_t devid);
    hv::abi::Status attach_vif(uint32_t id, const VifConfig& v, xl::Output& out, uint32_t* devid);
    // By devid, or by MAC when mac is not null.
    hv::abi::Status detach_vif(uint32_t id, uint32_t devid, const uint8_t* mac, uint32_t* found);
    bool vif_present(uint32_t id, uint32_t devid);
    // xl snapshot-* (domain_snapshots.cpp): create and delete pause the
    // guest while its disks change layers; revert destroys the domain,
    // reverts its volumes and creates it again from the same configuration
    // (*new_id: its new id).
    hv::abi::Status snapshot(uint32_t id, xl::SnapshotOp op, lib::StrView name, xl::Output& out, uint32_t* new_id);

    // The device-model thread's body (never returns).
    [[noreturn]] void serve();
    // Joins the host's network card to xenbr0 as its uplink
    // (domain_vifs.cpp); false (with a message on out) if it cannot.
    bool attach_uplink(drivers::Nic& nic, xl::Output& out);

private:
    GuestDomain* by_id(uint32_t id);
    GuestDomain* console_of(uint32_t id);
    // Domain id's disk devid, for the hotplug calls (not_found, or
    // unsupported: no PCI bus); under lock_.
    hv::abi::Status find_disk(uint32_t id, uint32_t devid, GuestDomain*& g, size_t& i);
    void handle_ioreq(const hv::abi::IoRequest& r);
    // Applies the writes hv queued (before anything else the guest did
    // later); uart_updated, after every change of COM1's state, raises or
    // lowers its interrupt and republishes (or withdraws) the LSR latch.
    // Under lock_.
    void drain_buffered(GuestDomain& g, bool force = false);
    void uart_updated(GuestDomain& g);
    void handle_events();
    // Moves every Multiboot domain's PIT and PIC to now and hands pending
    // PIC interrupts to hv; returns how long the serve loop may sleep.
    uint64_t update_isa(uint64_t now);
    // Runs the vif queues whose doorbell ports are up (domain_vifs.cpp); under lock_.
    void ring_vifs(GuestDomain& g);
    // Binds the vifs' and disks' notify registers to event ports where
    // their BAR4 decodes now, moving the bindings when the guest moved the
    // BAR (after every configuration write) and dropping them while its
    // decoding is off. Under lock_.
    void follow_bells(GuestDomain& g);
    void follow_vif_bells(GuestDomain& g);
    // The disks' doorbell fast path (domain_disk_bells.cpp): binds their
    // notify registers (for follow_bells), runs the queues whose ports are
    // up, and closes disk i's ports before it goes. Under lock_.
    void follow_disk_bells(GuestDomain& g);
    void ring_disks(GuestDomain& g);
    void close_disk_bells(GuestDomain& g, size_t i);
    // Frames from the uplink's NIC into the bridge (all of them when
    // `always`, else only if its interrupt came); under lock_.
    void poll_uplink(bool always);
    void check_lifecycle();
    void apply_policy(GuestDomain& g, const hv::abi::DomainInfo& info);
    lib::Status build(GuestDomain& g, xl::Output& out);
    // The second half of create: builds and starts g (its cfg parsed and
    // checked), or frees it.
    lib::Result<uint32_t> launch(GuestDomain* g, bool paused, xl::Output& out);
    void forget(GuestDomain* g);
    void release_devices(GuestDomain& g);
    // vif=: builds the virtio-net functions, plugs them into g.pc and joins
    // them to xenbr0; detach_vifs undoes it (domain_vifs.cpp). Both take
    // lock_: call them without it while the domain has vifs.
    lib::Status attach_vifs(GuestDomain& g, xl::Output& out);
    void detach_vifs(GuestDomain& g);
    // One vif as devid (under lock_): plugged in at boot, or hot-plugged.
    // drop_vif takes it off the bridge and frees it (its PCI function must
    // be gone). `label` names it in messages.
    lib::Status add_vif(GuestDomain& g, const VifConfig& v, unsigned devid, bool hot, const char* label,
                        xl::Output& out);
    void drop_vif(GuestDomain& g, unsigned devid);
    // The guest ejected these slots (their functions are gone): their
    // disks and vifs go too. Under lock_.
    void finish_ejects(GuestDomain& g, uint32_t slots);

    Lock lock_;
    const files::CpioArchive* files_ = nullptr;
    uint32_t control_ = 0;
    GuestDomain* slots_[max_domains] = {};
    GuestDomain* destroyed_[max_domains] = {};  // still read by an attached console
};

Domains& domains();

}  // namespace vmm
