// The vendor-neutral vCPU: guest registers, the backend object, exit
// counters by reason, and the run loop that dispatches exits. hv/ code sees
// only the exit record and HwVcpu accessors.
#pragma once

#include <cstdint>

#include "arch/x86_64/fpu.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "hv/sched/sched_vcpu.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "hv/vcpu/cpuid_policy.hpp"
#include "hv/vcpu/guest_state.hpp"
#include "hv/vcpu/hw_vcpu.hpp"
#include "hv/vcpu/vm_exit.hpp"
#include "hv/vlapic/vlapic.hpp"
#include "lib/result.hpp"

namespace hv {

struct Domain;

// Where a vCPU is in its life (SDM 8.4: an AP waits for a SIPI after INIT).
enum class VcpuState : uint8_t { wait_for_sipi, runnable, halted, stopped, waiting_io };

// A port access forwarded to a device model (Dom0): posted by the exit,
// taken by ioreq_wait, done by ioreq_complete, applied (RAX, RIP) by the
// vCPU's own CPU before it runs again.
enum class IoreqState : uint8_t { none, posted, taken, done };
struct Ioreq {
    IoreqState state;
    bool in;
    bool mmio;
    uint8_t size;
    uint8_t insn_len;  // ports: how far RIP moves once done
    uint64_t addr;     // port or guest-physical address
    uint64_t value;
};

// Forwarded MMIO accesses Dom0 completed for the instruction at RIP: the
// vCPU re-executes the instruction, and its emulation takes these results
// (in order) instead of asking Dom0 again. An instruction that makes more
// accesses (read-modify-write, REP) collects them one round trip at a time.
struct MmioLog {
    static constexpr unsigned max = 4;
    struct Entry {
        uint64_t gpa;
        uint64_t value;
        uint8_t size;
        bool write;
    } e[max];
    uint8_t count;
    uint8_t used;  // consumed by the emulation running now
};

struct Vcpu : Runnable {
    vlapic::Vlapic lapic;  // first member: it needs 16-byte alignment
    arch::FpuState fpu;    // the guest's x87/SSE registers while it is not loaded
    Domain* domain;
    uint32_t id;  // within the domain
    uint32_t host_serial;  // unique on the host: ASID/VPID
    HwVcpu* hw;   // created on the physical CPU that runs the vCPU, at its first run
    VcpuState state;
    unsigned cpu;            // physical CPU it is assigned to
    bool placed;             // cpu was chosen before the start (xl vcpu-pin on a paused domain)
    volatile int migrate_to; // xl vcpu-pin: the CPU it moves to when it next stops (-1: none)
    uint64_t runtime_carry_ns;  // run time before its last move (the scheduler counts per stay)
    volatile int running_on;  // physical CPU in guest mode or handling its exit, -1 if none
    // Its scheduling state (hv/sched), registered while its domain runs;
    // pinned to `cpu`. Protected by that CPU's run-queue lock (cpu_loop.cpp).
    hv::sched::SchedVcpu sched;
    // Protects lapic, nmi/irq pending flags and state against other CPUs
    // (IPIs, kicks). The owning CPU holds it around event delivery.
    arch::SpinLock lock;
    GuestGprs gprs;
    uint64_t exits[static_cast<unsigned>(ExitReason::count_)];
    uint64_t exits_total;
    uint64_t directed_yields;  // PAUSE exits that handed the CPU to a sibling
    // IPIs this vCPU's APIC sent while its lock was held; delivered to the
    // targets (under their locks) once it is released, so two vCPUs sending
    // to each other cannot deadlock.
    vlapic::Ipi outbox[8];
    unsigned outbox_count;
    // Level-triggered EOIs for the vIOAPIC, queued like IPIs: the vLAPIC
    // reports them under v.lock, the vIOAPIC takes its own lock.
    uint8_t eoi_outbox[8];
    unsigned eoi_count;
    bool yield_requested;  // a PAUSE exit: the CPU loop yields (to a preempted sibling if any)
    uint64_t p2m_generation;  // of the domain's p2m when this vCPU's guest TLB was last flushed
    bool sipi_received;  // enter the SIPI state before the next run
    uint8_t sipi_vector;
    // Pending external interrupt from an hv-side source (the vLAPIC later;
    // the test device now), injected when the guest can take it.
    bool nmi_pending;
    bool irq_pending;
    uint8_t irq_vector;
    // vCPU 0's INTR pin (domain_extint): a device model's virtual PIC
    // answered this vector; injected once the vLAPIC accepts ExtINT.
    bool extint_pending;
    uint8_t extint_vector;
    // A one-shot virtual timer: at guest-independent host TSC `timer_deadline`
    // (0 = off) `timer_vector` becomes pending. The host LAPIC timer is armed
    // for it while the vCPU runs or halts.
    uint64_t timer_deadline;
    uint8_t timer_vector;
    uint64_t host_timer_for;  // wakeup time the host LAPIC timer is armed for
    Ioreq ioreq;
    MmioLog mmio_log;
    // Initial state set by the domain builder (vcpu_boot), applied by the
    // vCPU's own CPU before its first entry: the backend state lives there.
    bool boot_pending;
    uint32_t boot_eip, boot_eax, boot_ebx, boot_esi, boot_edi;
    Vcpu* ioreq_next;  // in its device model's queue of posted requests
    // Emulated MSR state.
    uint64_t tsc_offset;
    uint64_t misc_enable;
    uint64_t pvclock_msr;  // kvm-clock system-time MSR as last written
};

lib::Result<Vcpu*> create_vcpu(Domain& d, uint32_t id, uint32_t host_serial);
// Creates the backend state on the calling CPU if not done yet.
lib::Status ensure_hw(Vcpu& v);
void destroy_vcpu(Vcpu* v);

// Puts the vCPU in the state a Multiboot, PVH or Linux 32-bit boot loader
// leaves: 32-bit protected mode, flat segments, paging off, IF=0, the given
// EIP, EAX, EBX, ESI, EDI, the other registers zero.
struct Flat32Entry {
    uint32_t eip, eax, ebx, esi, edi;
};
void set_flat32_entry_state(Vcpu& v, const Flat32Entry& e);

// Runs the vCPU on this CPU until it halts, its domain stops, or the host
// TSC passes slice_end. Returns false if the vCPU could not be set up.
bool run_vcpu(Vcpu& v, uint64_t slice_end);
// Re-checks a halted or waiting vCPU: true if it became runnable.
bool wake_if_pending(Vcpu& v);
// True if nothing can ever make this vCPU run again without another vCPU
// (halted with interrupts off and no NMI pending, waiting for a SIPI, stopped).
bool blocked_for_good(Vcpu& v);
// Host TSC at which a halted vCPU's timers next fire, 0 if none.
uint64_t vcpu_wakeup_time(const Vcpu& v);

// Logs the per-reason exit counters (when a domain ends; xl will show them).
void dump_exit_counters(const Vcpu& v);

// Total run time (xl vcpu-list, xl list), across moves between CPUs.
inline uint64_t vcpu_runtime_ns(const Vcpu& v) { return v.runtime_carry_ns + v.sched.runtime_ns(); }

// The guest's TSC now (host TSC + the vCPU's offset): the vLAPIC's clock.
uint64_t guest_tsc(const Vcpu& v);

// Delivers the IPIs queued in v.outbox and the EOIs in v.eoi_outbox (call
// without v.lock held).
void flush_ipis(Vcpu& v);

// Makes `vector` pending for the vCPU (external interrupt).
void raise_irq(Vcpu& v, uint8_t vector);
void raise_nmi(Vcpu& v);

// Exit handlers (one file each). Each returns normally with the guest ready
// to resume, or stops the domain.
void handle_cpuid(Vcpu& v, const VmExit& x);
void handle_io(Vcpu& v, const VmExit& x);
void handle_msr(Vcpu& v, const VmExit& x);
void handle_cr(Vcpu& v, const VmExit& x);
void handle_mmio(Vcpu& v, const VmExit& x);

// Device-model forwarding (hv/dom0/ioreq.cpp): whether `port` goes to Dom0,
// posting a request (the vCPU waits), and applying a completed one.
bool port_forwarded(const Domain& d, uint16_t port);
bool mmio_forwarded(const Domain& d, uint64_t gpa);
void post_ioreq(Vcpu& v, uint16_t port, uint8_t size, bool in, uint32_t value, uint8_t insn_len);
void post_mmio_ioreq(Vcpu& v, uint64_t gpa, uint8_t size, bool write, uint64_t value);
void apply_ioreq(Vcpu& v);
// A guest write to a doorbell (hv/dom0/evtchn_calls.cpp): an OUT to a port
// or a write to a guest-physical address. True if it is one (its event was
// sent; the write is done).
bool ioevent_fire(Vcpu& v, uint64_t addr, bool mmio);
// Buffered writes and latched reads (hv/dom0/iobuffer.cpp): true when the
// access was handled without stopping the vCPU.
bool iobuf_write(Vcpu& v, uint16_t port, uint8_t size, uint32_t value);
bool latch_read(const Domain& d, uint16_t port, uint32_t& value);
// Raises the device model's end of the domain's event port `domain_port`.
void send_to_dm(Domain& d, uint32_t domain_port);

// Helpers for handlers.
// What CPUID shows this vCPU (its domain's policy over the host's answer).
CpuidRegs vcpu_cpuid(const Vcpu& v, uint32_t leaf, uint32_t subleaf);
void advance_rip(Vcpu& v, const VmExit& x);
void inject_exception(Vcpu& v, uint8_t vector, bool has_error = false, uint32_t error = 0);

}  // namespace hv
