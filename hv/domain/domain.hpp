// A domain: guest-physical memory (host frames behind an NPT/EPT map), its
// vCPUs, port-I/O handlers, CPUID policy, and its life cycle. Dom0 creates
// them through hypercalls (hv/dom0/domctl.cpp); the test build also creates
// them from Multiboot modules (tests/kernel/testguest.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/x86_64/spinlock.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "hv/abi/hypercall.hpp"
#include "hv/obj/evtchn.hpp"
#include "hv/obj/kobject.hpp"
#include "hv/sched/sched_config.hpp"
#include "hv/sched/sched_group.hpp"
#include "hv/vcpu/cpuid_policy.hpp"
#include "hv/vioapic/vioapic.hpp"
#include "hv/vlapic/vlapic.hpp"
#include "lib/result.hpp"

namespace hv {

struct Vcpu;
struct Pd;
struct Region;

enum class DomainState : uint8_t { building, running, shutdown, crashed };

enum class CrashPolicy : uint8_t { destroy, preserve };

// A port-range handler: value holds the data for OUT and receives it for IN.
// Returns false if the access should be treated as unclaimed.
struct PortHandler {
    uint16_t base;
    uint16_t count;
    bool (*handle)(Vcpu& vcpu, uint16_t port, unsigned size, bool in, uint32_t& value);
};

// A guest-physical range whose accesses are emulated in hv (hot-path devices:
// the xAPIC page; Dom0's device models use forwarded ranges instead). Reads
// return the value, or an error that stops the guest.
struct MmioHandler {
    uint64_t base;
    uint64_t size;
    lib::Result<uint64_t> (*read)(Vcpu& vcpu, uint64_t gpa, uint8_t size);
    lib::Status (*write)(Vcpu& vcpu, uint64_t gpa, uint8_t size, uint64_t value);
};

struct RamChunk {
    uint64_t gpa;
    uint64_t hpa;
    uint64_t size;
};

// A doorbell: a guest write to `addr` sends on the domain's event port
// `port` (its other end is the device model's) without an exit to Dom0.
struct Ioevent {
    uint64_t addr;  // the port, or the guest-physical address (MMIO: any write there)
    uint32_t port;
    bool mmio;
};
// A port of the domain's table whose events become an interrupt of one of
// its vCPUs (irqfd-like).
struct IrqRoute {
    uint32_t port;
    uint32_t vcpu;
    uint8_t vector;
};

// A port range whose accesses go to a device model in Dom0 (ioport_forward).
struct ForwardedPorts {
    uint16_t base;
    uint16_t count;
};

// Ports whose guest writes are queued for the device model instead of
// stopping the vCPU (ioport_buffer); `port` is the domain's end of the event
// pair that tells the device model there is something to drain.
struct BufferedPorts {
    uint16_t base;
    uint16_t count;
    uint32_t port;
};
// A value the device model publishes for 1-byte reads of one port
// (ioport_latch): `word` is the value in bits 7:0 with bit 8 set while valid.
struct PortLatch {
    uint16_t port;
    uint32_t word;
};

struct Domain {
    // First: capabilities name the domain through this header.
    obj::KObject kobj{obj::ObjType::domain};
    static constexpr unsigned max_vcpus = 64;
    static constexpr unsigned max_forwarded = 16;  // port ranges, and MMIO ranges
    static constexpr unsigned max_port_handlers = 16;
    static constexpr unsigned max_chunks = 2048;
    static constexpr unsigned max_mmio_handlers = 16;

    uint32_t id;
    char name[32];
    DomainState state;
    bool paused;  // xl pause: no vCPU runs until unpaused
    bool dead;    // torn down (domain_destroy): only this struct is left until the last reference goes
    bool started; // vCPUs are on their CPUs (the first unpause)
    volatile bool release_hw;  // each CPU frees the backend state of the domain's vCPUs it runs
    char stop_reason[64];  // why it shut down or crashed
    // Device-model side (Dom0): where forwarded accesses go, which ports, and
    // how many mappings of its RAM the device model holds.
    Pd* dm;
    ForwardedPorts forwarded[max_forwarded];
    size_t forwarded_count;
    struct ForwardedMmio {
        uint64_t base;
        uint64_t size;
    } forwarded_mmio[max_forwarded];
    size_t forwarded_mmio_count;
    uint32_t dm_mappings;
    // Buffered writes and latched reads of forwarded ports (hv/dom0/iobuffer.cpp):
    // the ring is written by the vCPUs and drained by the device model, which
    // must drain it before it handles the domain's next synchronous request.
    static constexpr unsigned max_buffered = 4;
    static constexpr unsigned max_latches = 8;
    static constexpr unsigned iobuf_capacity = 256;
    BufferedPorts buffered[max_buffered];
    size_t buffered_count;
    PortLatch latches[max_latches];
    uint32_t latch_count;  // published with release: entries below it are set up
    arch::SpinLock iobuf_lock;
    uint32_t iobuf_head, iobuf_count;
    abi::BufferedWrite iobuf[iobuf_capacity];
    // Event channels: the domain's table (its page is hv's own until the
    // guest ABI maps one), doorbells and interrupt routes. Under evtchn_lock;
    // with a Pd's lock too, the Pd's first (lower domain id).
    static constexpr unsigned max_ioevents = 16;
    static constexpr unsigned max_irq_routes = 16;
    arch::SpinLock evtchn_lock;
    obj::EvtchnTable evtchn;
    uint64_t evtchn_page_pa;
    Ioevent ioevents[max_ioevents];
    size_t ioevent_count;
    IrqRoute irq_routes[max_irq_routes];
    size_t irq_route_count;
    // Shared regions granted into its guest-physical space (region_grant);
    // each holds a reference, dropped when the domain goes.
    static constexpr unsigned max_grants = 8;
    struct Grant {
        uint64_t gpa;
        Region* region;
    } grants[max_grants];
    size_t grant_count;
    CrashPolicy on_crash;
    arch::virt::GuestPhysMap p2m;
    uint64_t mem_bytes;
    RamChunk chunks[max_chunks];
    size_t chunk_count;
    uint64_t io_bitmap_pa;  // 12 KiB, bit set = intercept
    CpuidPolicy cpuid;
    // PAUSE-loop exiting / Pause Filter settings for the domain's vCPUs, and
    // whether a PAUSE exit hands the CPU to a preempted sibling (directed
    // yield) or simply resumes the spinner (off: for comparison).
    PauseTuning pause;
    bool directed_yield;
    // Guest TSC = host TSC + tsc_offset, the same for every vCPU, so the guest
    // sees one monotonic TSC starting near 0 whichever CPU a vCPU runs on
    // (host TSCs are synchronised; the guest may move its own with WRMSR).
    uint64_t tsc_offset;
    // Wall-clock time (Unix, ns) at guest time 0, for kvm-clock's wall
    // clock: when the domain was created (its TSC starts there), 0 if hv
    // has no wall clock.
    uint64_t wallclock_ns;
    // Credit-scheduler parameters (xl sched-credit -w/-c): weight 1..65535
    // for each vCPU, cap in percent of one CPU for the whole domain (0 =
    // none). Registered with the scheduler (as `sched`) while it runs.
    uint32_t sched_weight = hv::sched::default_weight;
    uint32_t sched_cap = 0;
    hv::sched::SchedGroup sched;
    Vcpu* vcpus[max_vcpus];
    uint32_t vcpu_count;
    PortHandler ports[max_port_handlers];
    size_t port_count;
    MmioHandler mmio[max_mmio_handlers];
    size_t mmio_count;
    vlapic::Bus* lapic_bus;
    alignas(8) unsigned char lapic_bus_storage[16];
    // The I/O APIC every domain has at 0xfec00000: device models drive its
    // lines (domain_irq), vLAPIC EOIs end its level-triggered interrupts.
    arch::SpinLock ioapic_lock;
    vioapic::Vioapic ioapic;
    // Scratch registers of the test build's MMIO test device.
    uint64_t test_device_regs[512];
    // Set when the guest wrote the debug-exit port (QEMU isa-debug-exit).
    bool has_exit_status;
    uint32_t exit_value;
    // Test console: COM1 output, flushed to the hypervisor log per line.
    char console_line[160];
    size_t console_len;
};

// Builds the domain's APIC bus (in d.lapic_bus_storage): routes IPIs between
// its vLAPICs and EOI broadcasts to the vIOAPIC.
vlapic::Bus* create_lapic_bus(Domain& d);
// Sends interrupt messages from the vIOAPIC or an MSI to the vLAPICs they
// address (the first match for lowest priority) and kicks their CPUs. Call
// with no vCPU lock and not the ioapic_lock held.
void deliver_messages(Domain& d, const vioapic::Outbox& out);
// A device model's interrupt line into the vIOAPIC: level 0 lowers, 1
// raises, 2 pulses (raise then lower: an edge). False for a pin out of range.
bool set_irq_line(Domain& d, uint32_t gsi, uint32_t level);
// An MSI write from a device model; false if it is not an interrupt message.
bool send_msi(Domain& d, uint64_t address, uint32_t data);

// Creates a domain with `mem_bytes` of RAM at guest-physical 0 (rounded up to
// 4 KiB) and `vcpus` vCPUs in the reset state. Every port is intercepted.
lib::Result<Domain*> create_domain(const char* name, uint64_t mem_bytes, uint32_t vcpus);
// Releases the domain's memory and vCPU state.
void destroy_domain(Domain* d);
// Drops the references of the regions granted into it (hv/dom0/region.cpp).
void release_grants(Domain& d);

// RAM after creation (domain_populate / domain_release, ballooning):
// populate_ram maps fresh zeroed frames at [gpa, gpa+size) where nothing is
// mapped yet; release_ram unmaps and frees whatever RAM lies in the range
// (the caller makes sure no vCPU runs and nobody else maps it).
lib::Status populate_ram(Domain& d, uint64_t gpa, uint64_t size);
lib::Status release_ram(Domain& d, uint64_t gpa, uint64_t size);
// Whether every byte of the range is RAM, and where the highest RAM ends.
bool is_ram(const Domain& d, uint64_t gpa, uint64_t size);
uint64_t ram_end(const Domain& d);

lib::Status add_port_handler(Domain& d, const PortHandler& h);
// Registers an emulated range; it must not overlap RAM or another handler.
lib::Status add_mmio_handler(Domain& d, const MmioHandler& h);
const MmioHandler* find_mmio_handler(const Domain& d, uint64_t gpa);

// Copies into / out of guest RAM; Error::out_of_range if any byte is not RAM.
lib::Status copy_to_guest(Domain& d, uint64_t gpa, const void* src, size_t len);
lib::Status copy_from_guest(const Domain& d, uint64_t gpa, void* dst, size_t len);
lib::Status zero_guest(Domain& d, uint64_t gpa, size_t len);

// Stops the domain with a reason shown in the log; on_crash decides whether
// its state is kept for inspection.
void crash_domain(Domain& d, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void shutdown_domain(Domain& d, const char* why);

}  // namespace hv
