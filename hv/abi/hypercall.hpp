// The hypercall ABI between hv and Dom0 (docs/abi.md). Dom0 runs in ring 3
// of the host and enters hv with SYSCALL:
//
//   rax = call number (Call), rdi, rsi, rdx, r10, r8, r9 = arguments
//   returns rax = Status, rdx = a value (handle, count, size) when the call
//   has one; every other register but rcx and r11 (clobbered by SYSCALL) is
//   preserved.
//
// Objects are named by handles into the caller's capability table; every
// call states the rights it needs on each handle. Pointers are addresses in
// the caller's address space; hv checks that every byte is mapped for the
// caller with the access it needs before it touches one. Layouts in this file
// are fixed: each struct has static_asserts on its size and offsets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::abi {

// Call numbers. New calls get new numbers; numbers are never reused.
enum class Call : uint64_t {
    console_write = 0,   // (buf, len): bytes to the Dom0 console (the serial line)
    console_read = 1,    // (buf, cap, timeout_ns) -> bytes read; 0 after the timeout
    log_read = 2,        // (seq, buf, cap) -> next seq; see log_read below
    system_info = 3,     // (SystemInfo* out)
    clock = 4,           // () -> nanoseconds since boot
    thread_exit = 5,     // (code): ends the calling thread; the last one ends Dom0
    yield = 6,           // (): give up the rest of this slice
    sleep = 7,           // (ns): block for at least ns
    // Capabilities.
    handle_close = 8,    // (handle): drops the caller's capability
    handle_info = 9,     // (handle, HandleInfo* out)
    thread_create = 10,  // (rip, rsp, arg, cpu) -> thread id: a new thread of the caller
    // Domains (control right manage on `control`; rights on a domain handle as listed).
    domain_create = 11,  // (control, const DomainConfig*) -> domain handle, all rights; paused
    domain_destroy = 12, // (domain: manage): stops it, frees its memory; consumes the handle
    domain_pause = 13,   // (domain: manage)
    domain_unpause = 14, // (domain: manage): the first unpause starts vCPU 0
    domain_info = 15,    // (domain: read, DomainInfo* out)
    domain_list = 16,    // (control: read, first_id, DomainInfo* out, cap) -> count
    domain_map = 17,     // (domain: map, gpa, size, va, flags): its RAM into the caller at va
    unmap = 18,          // (va, size): undoes domain_map
    vcpu_boot = 19,      // (domain: write, vcpu, const VcpuBoot*): initial state, before the start
    vcpu_info = 20,      // (domain: read, vcpu, VcpuInfo* out)
    domain_sched = 21,   // (domain: manage, weight, cap): credit parameters; weight 0 and cap ~0 keep the old value
    // Device models: accesses to forwarded ports stop the vCPU until the
    // caller completes them.
    ioport_forward = 22, // (domain: manage, base, count)
    ioreq_wait = 23,     // (IoRequest* out, timeout_ns) -> 1 with a request, 2 if events are pending, 0 after the timeout
    ioreq_complete = 24, // (domain: write, vcpu, value): the result of a read; resumes the vCPU
    domain_shutdown = 25, // (domain: manage, ShutdownKind, exit value): stops its vCPUs, keeps its state
    log_write = 26,      // (level, buf, len): a line for the hypervisor log (xl dmesg), "dom0: " in front
    handle_dup = 27,     // (handle: dup, rights) -> a second handle with those rights (a subset)
    // Event channels: the caller's ports, pending and mask bits in its event
    // page (StartInfo::evtchn_page, hv_evtchn_shared in hv/abi/evtchn_abi.h),
    // which the caller reads and clears itself.
    evtchn_wait = 28,    // (timeout_ns) -> the lowest pending unmasked port, 0 after the timeout
    evtchn_send = 29,    // (port): raise the other end (a guest interrupt for a vector port)
    evtchn_close = 30,   // (port)
    ioevent_bind = 31,   // (domain: manage, ioport) -> port: a guest write to ioport raises it, no exit to Dom0
    evtchn_bind_vector = 32, // (domain: write, vcpu, vector) -> port: a send injects vector into that vCPU
    domain_exits = 33,   // (domain: read, ExitCounts* out): VM exits by reason, all vCPUs summed
    vcpu_pin = 34,       // (domain: manage, vcpu, cpu): run that vCPU on that CPU only (moves it if running)
    mmio_forward = 35,   // (domain: manage, gpa, size): accesses there go to the caller as IoRequests
    // Shared memory.
    region_create = 36,  // (size, whole pages, <= 2 MiB) -> region handle (all rights), zeroed
    region_map = 37,     // (region: map, va, flags bit 0 writable): into the caller; unmap undoes it
    region_grant = 38,   // (region: transfer, domain: manage, gpa, flags bit 0 writable): into the domain's memory
    // Physical devices for Dom0's own drivers (control: manage).
    device_ports = 39,   // (control, base, count): ring 3 may use these ports (in/out)
    device_mmio_map = 40, // (control, phys, size, va): an uncached MMIO window; unmap undoes it
    region_phys = 41,    // (region: read) -> its bus address for DMA (physical: no IOMMU yet)
    device_irq_bind = 42, // (control, gsi) -> port: the interrupt raises it; level pins stay masked until acked
    device_irq_ack = 43, // (port): unmask a level-triggered pin after the driver handled its device
    // Memory after creation (ballooning, hot-add).
    domain_populate = 44, // (domain: manage, gpa, size): fresh zeroed RAM where nothing is mapped
    domain_release = 45, // (domain: manage, gpa, size): RAM in the range goes back to hv (domain paused, unmapped by Dom0)
    ioevent_bind_mmio = 46, // (domain: manage, gpa in a forwarded MMIO range) -> port: a guest write there raises it
    vcpu_nmi = 47,       // (domain: manage, vcpu): an NMI for that vCPU (xl trigger nmi)
    // Interrupts from device models (see "Guest interrupts" in docs/abi.md).
    domain_irq = 48,     // (domain: write, gsi, level): vIOAPIC line gsi lowered (0), raised (1) or pulsed (2)
    domain_msi = 49,     // (domain: write, address, data): an MSI write into the domain's interrupt window
    // Buffered port I/O (see "Buffered writes and latched reads" in docs/abi.md).
    ioport_buffer = 50,  // (domain: manage, base, count) -> port: guest writes there are queued, the port raised
    ioport_drain = 51,   // (domain: write, BufferedWrite* out, cap) -> count: takes queued writes, oldest first
    ioport_latch = 52,   // (domain: write, port, value): 1-byte reads of port answer value (0-255; ~0 withdraws it)
    domain_extint = 53,  // (domain: write, vector): vCPU 0's INTR pin (a virtual PIC's answer); busy while one waits
    // PCI for Dom0's own drivers (control: manage).
    pci_config_read = 54,  // (control, address, width) -> value: configuration space, mechanism 1
    pci_config_write = 55, // (control, address, width, value)
    device_msi_bind = 56,  // (control, MsiMessage* out) -> port: the MSI the device is to write raises it
    count_
};

// Results. Zero is success; the rest mirror lib::Error plus ABI-only codes.
enum class Status : uint64_t {
    ok = 0,
    invalid = 1,        // a malformed argument (bad flags, size, alignment)
    truncated = 2,
    bad_checksum = 3,
    unsupported = 4,
    no_memory = 5,
    not_found = 6,      // no such object (including a stale or forged handle)
    exists = 7,
    out_of_range = 8,
    busy = 9,
    io = 10,
    denied = 11,        // the handle lacks a right the call needs
    corrupt = 12,
    bad_address = 13,   // a pointer argument is not mapped for the caller as needed
    bad_call = 14,      // no such call number
    timed_out = 15,
    wrong_type = 16,    // the handle names an object of another type
};

constexpr const char* status_name(Status s)
{
    switch (s) {
    case Status::ok: return "ok";
    case Status::invalid: return "invalid argument";
    case Status::truncated: return "truncated";
    case Status::bad_checksum: return "bad checksum";
    case Status::unsupported: return "unsupported";
    case Status::no_memory: return "out of memory";
    case Status::not_found: return "no such object";
    case Status::exists: return "exists";
    case Status::out_of_range: return "out of range";
    case Status::busy: return "busy";
    case Status::io: return "I/O error";
    case Status::denied: return "permission denied";
    case Status::corrupt: return "corrupt";
    case Status::bad_address: return "bad address";
    case Status::bad_call: return "no such hypercall";
    case Status::timed_out: return "timed out";
    case Status::wrong_type: return "wrong object type";
    }
    return "unknown status";
}

using Handle = uint32_t;
inline constexpr Handle no_handle = 0;

// What hv hands Dom0's first thread in rdi: where things are in its address
// space and the capabilities it starts with.
struct StartInfo {
    static constexpr uint64_t magic_value = 0x3049'4e49'5452'5453ull;  // "STRTINI0"
    uint64_t magic;
    uint32_t abi_version;
    uint32_t cpu_count;
    uint64_t heap_base;      // RW memory for Dom0's allocator
    uint64_t heap_size;
    uint64_t files_base;     // the cpio archive (second Multiboot module), read-only; 0 if none
    uint64_t files_size;
    uint64_t cmdline;        // NUL-terminated command line of the Dom0 module
    uint64_t tsc_hz;
    Handle self;             // Dom0's own domain
    Handle control;          // the control capability (create domains, read the log)
    uint64_t evtchn_page;    // this domain's event page (one 4 KiB page, read-write)
    uint64_t reserved[7];
};
static_assert(sizeof(StartInfo) == 136);
static_assert(offsetof(StartInfo, heap_base) == 16);
static_assert(offsetof(StartInfo, self) == 64);

inline constexpr uint32_t abi_version = 1;

struct SystemInfo {
    char hv_version[16];
    char backend[8];        // "svm" or "vmx"
    uint32_t cpu_count;
    uint32_t numa_nodes;
    uint64_t tsc_hz;
    uint64_t total_memory;  // bytes of RAM managed by hv
    uint64_t free_memory;
    uint64_t uptime_ns;
    char cpu_vendor[16];
    char cpu_model[48];
    uint64_t free_frames;   // 4 KiB frames free (exact; free_memory rounds nothing either)
    uint64_t caller_cpu_ns; // run time of the calling domain's threads (Dom0's Time(s))
    uint64_t wall_clock_ns; // Unix time (UTC) from the RTC at boot and the TSC since; 0 if unknown
    uint64_t reserved[1];
};
static_assert(sizeof(SystemInfo) == 160);
static_assert(offsetof(SystemInfo, cpu_count) == 24);

// log_read copies whole lines of the hypervisor log, oldest first, from
// sequence number `seq` (or the oldest line still kept, if that one was
// dropped) into buf as "<L>text\n" (L = the level digit, 0 error .. 3
// debug), NUL-terminated; rdx = the sequence number to ask for next. A
// reader that keeps passing it back sees every line once.

// Rights bits of a capability (hv/obj/rights.hpp has the same numbers).
namespace rights {
inline constexpr uint32_t read = 1u << 0;
inline constexpr uint32_t write = 1u << 1;
inline constexpr uint32_t map = 1u << 2;
inline constexpr uint32_t manage = 1u << 3;
inline constexpr uint32_t signal = 1u << 4;
inline constexpr uint32_t dup = 1u << 5;
inline constexpr uint32_t transfer = 1u << 6;
}  // namespace rights

namespace domain_flag {
inline constexpr uint32_t pause_exits = 1u << 0;        // intercept PAUSE even without a filter
inline constexpr uint32_t no_directed_yield = 1u << 1;  // a PAUSE exit just resumes the spinner
inline constexpr uint32_t all = pause_exits | no_directed_yield;
}  // namespace domain_flag

// Why a device model stopped a domain (its debug-exit port, a reset).
enum class ShutdownKind : uint32_t { poweroff = 0, reboot = 1, crash = 2 };

struct DomainConfig {
    char name[32];
    uint64_t memory;   // bytes of RAM at guest-physical 0
    uint32_t vcpus;    // 1..64
    uint32_t weight;   // credit weight, 0 = 256
    uint32_t cap;      // percent of one CPU, 0 = none
    uint32_t flags;    // domain_flag
    uint64_t reserved[4];  // zero
};
static_assert(sizeof(DomainConfig) == 88);
static_assert(offsetof(DomainConfig, memory) == 32);

enum class RunState : uint32_t { building = 0, running = 1, paused = 2, shutdown = 3, crashed = 4, dying = 5 };

struct DomainInfo {
    uint32_t id;
    RunState state;
    char name[32];
    uint64_t memory;
    uint32_t vcpus;
    uint32_t exit_status_valid;  // 1 if the guest wrote the debug-exit port
    uint32_t exit_value;         // what it wrote
    uint32_t weight;
    uint32_t cap;
    uint32_t pad;
    uint64_t cpu_time_ns;        // all vCPUs
    uint64_t exits;
    char reason[64];             // why it stopped (shutdown, crashed)
};
static_assert(sizeof(DomainInfo) == 152);
static_assert(offsetof(DomainInfo, memory) == 40);
static_assert(offsetof(DomainInfo, reason) == 88);

enum class BootMode : uint32_t {
    // 32-bit protected mode, paging off, flat 4 GiB segments, IF=0: rip, and
    // rax, rbx, rsi, rdi as the loader's protocol wants them (Multiboot: EAX
    // magic and EBX info; PVH: EBX start_info; Linux 32-bit boot: ESI the
    // zero page). The name is the first protocol that used it.
    multiboot32 = 1,
};

namespace vcpu_boot_flag {
// The local APIC as PC firmware leaves the boot CPU's: software-enabled,
// LINT0 ExtINT (the virtual wire from the PIC), LINT1 NMI.
inline constexpr uint32_t virtual_wire = 1u << 0;
}  // namespace vcpu_boot_flag

struct VcpuBoot {
    BootMode mode;
    uint32_t flags;  // vcpu_boot_flag
    uint64_t rip, rsp, rax, rbx, rsi, rdi;
    uint64_t reserved[2];
};
static_assert(sizeof(VcpuBoot) == 72);

struct VcpuInfo {
    uint32_t vcpu;
    uint32_t cpu;       // physical CPU it is pinned to
    uint32_t state;     // hv::sched::VcpuState: 0 offline 1 blocked 2 runnable 3 running 4 paused
    uint32_t pad;
    uint64_t time_ns;   // run time
    uint64_t exits;
    uint64_t affinity;  // CPUs 0..63 it may run on (bit mask)
};
static_assert(sizeof(VcpuInfo) == 40);

// A PCI configuration address for pci_config_read/write: bus, device,
// function and register as mechanism 1 lays them out (CONFIG_ADDRESS bits
// 23:0); the register is aligned to the width (1, 2 or 4 bytes).
constexpr uint64_t pci_config_address(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg)
{
    return uint64_t(bus & 0xff) << 16 | uint64_t(dev & 0x1f) << 11 | uint64_t(fn & 7) << 8 | (reg & 0xff);
}

// device_msi_bind's answer: what Dom0 writes into the device's MSI or MSI-X
// entry (fixed delivery, edge, physical destination: the CPU of Dom0's
// threads), and the event port it raises.
struct MsiMessage {
    uint64_t address;
    uint32_t data;
    uint32_t port;
};
static_assert(sizeof(MsiMessage) == 16);

// VM exits by reason; names are hv's (stable as long as the reason exists).
struct ExitCounts {
    static constexpr uint32_t max_reasons = 32;
    uint32_t count;  // entries used
    uint32_t pad;
    uint64_t total;
    struct Entry {
        char name[24];
        uint64_t exits;
    } reasons[max_reasons];
};
static_assert(sizeof(ExitCounts::Entry) == 32);
static_assert(sizeof(ExitCounts) == 16 + 32 * 32);

enum class IoKind : uint8_t { port = 0, mmio = 1 };

// A guest OUT to a buffered port, queued for the device model (ioport_drain).
struct BufferedWrite {
    uint16_t port;
    uint8_t size;   // 1, 2, 4
    uint8_t vcpu;   // who wrote it (vCPU index, < 64)
    uint32_t value;
};
static_assert(sizeof(BufferedWrite) == 8);

struct IoRequest {
    uint32_t domain;  // id (domain_info)
    uint32_t vcpu;
    uint64_t addr;    // the port, or the guest-physical address
    uint64_t value;   // a write: what the guest wrote
    uint8_t size;     // 1, 2, 4 (ports); 1, 2, 4, 8 (MMIO)
    uint8_t in;       // 1: the vCPU reads; complete with the value
    IoKind kind;
    uint8_t pad[5];
};
static_assert(sizeof(IoRequest) == 32);
static_assert(offsetof(IoRequest, addr) == 8 && offsetof(IoRequest, size) == 24);

enum class ObjectType : uint32_t { none = 0, domain = 1, vcpu = 2, thread = 3, evtchn = 4, region = 5, device = 6, control = 7 };

struct HandleInfo {
    ObjectType type;
    uint32_t rights;
    uint64_t koid;  // a number that names the object system-wide (for logs)
};
static_assert(sizeof(HandleInfo) == 16);

}  // namespace hv::abi
