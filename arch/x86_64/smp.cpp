#include "arch/x86_64/smp.hpp"

#include <cstring>

#include "arch/x86_64/address_space.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/fpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "lib/log.hpp"

extern "C" char trampoline_start[], trampoline_end[], trampoline_params[];

namespace arch {

// Mirrors the parameter block at the end of trampoline.S.
struct TrampolineParams {
    uint64_t cr3;
    uint64_t stack;
    uint64_t percpu;
    uint64_t entry;
    uint64_t efer_extra;
};
static_assert(sizeof(TrampolineParams) == 40);

namespace smp {
namespace {

volatile unsigned online = 1;  // the BSP
void (*ap_main)() = nullptr;

extern "C" [[noreturn]] void ap_entry(PerCpu* self)
{
    load_kernel_cr3();  // leave the trampoline's identity-mapping PML4
    uint64_t cr4 = read_cr4();
    auto f = paging_features();
    if (f.global) cr4 |= 1u << 7;
    if (f.smep) cr4 |= 1u << 20;
    write_cr4(cr4);
    activate_percpu(*self);
    fpu_enable_this_cpu();
    lapic::init_ap();
    self->apic_id = lapic::id();
    if (virt::caps().vendor != virt::Vendor::none) {
        if (auto s = virt::init_ap(); !s.ok())
            LOG_ERROR("smp: CPU %u cannot enable %s: %s", self->index, virt::vendor_name(), lib::error_name(s.error()));
    }
    self->online = true;
    __atomic_fetch_add(&online, 1, __ATOMIC_RELEASE);
    if (ap_main) ap_main();
    for (;;) {
        sti();
        halt();
    }
}

}  // namespace

void set_ap_main(void (*fn)()) { ap_main = fn; }

unsigned online_count() { return __atomic_load_n(&online, __ATOMIC_ACQUIRE); }

unsigned start_aps(const CpuToStart* list, size_t count, uint64_t trampoline_page)
{
    size_t tramp_size = size_t(trampoline_end - trampoline_start);
    if (tramp_size > page_size || trampoline_page >= 0x100000 || (trampoline_page & (page_size - 1))) {
        LOG_ERROR("smp: bad trampoline page %#lx", trampoline_page);
        return 0;
    }
    auto cr3 = make_trampoline_cr3(trampoline_page);
    if (!cr3.ok()) {
        LOG_ERROR("smp: cannot build the trampoline page tables: %s", lib::error_name(cr3.error()));
        return 0;
    }
    auto* page = phys_to_virt<char>(trampoline_page);
    memcpy(page, trampoline_start, tramp_size);
    auto* params = reinterpret_cast<volatile TrampolineParams*>(page + (trampoline_params - trampoline_start));

    unsigned started = 0;
    for (size_t i = 0; i < count; ++i) {
        unsigned index = online_count();
        auto pc = create_percpu(index, list[i].apic_id);
        if (!pc.ok()) {
            LOG_ERROR("smp: no memory for CPU %u: %s", index, lib::error_name(pc.error()));
            break;
        }
        PerCpu* c = pc.value();
        params->cr3 = cr3.value();
        params->stack = c->stack_top;
        params->percpu = reinterpret_cast<uint64_t>(c);
        params->entry = reinterpret_cast<uint64_t>(&ap_entry);
        params->efer_extra = paging_features().nx ? (1u << 11) : 0;
        asm volatile("mfence" ::: "memory");

        uint32_t apic = list[i].apic_id;
        lapic::send_ipi(apic, lapic::IpiKind::init);
        lapic::delay_us(10'000);
        uint8_t vec = uint8_t(trampoline_page >> 12);
        bool up = false;
        for (int attempt = 0; attempt < 2 && !up; ++attempt) {
            lapic::send_ipi(apic, lapic::IpiKind::startup, vec);
            // Emulated CPUs can take long to come up on a loaded host: wait
            // up to a second per SIPI, checking often.
            for (int waited = 0; waited < 10'000 && !c->online; ++waited) lapic::delay_us(100);
            up = c->online;
        }
        if (!up) {
            LOG_WARN("smp: CPU with APIC ID %u did not start", apic);
            cpus[index] = nullptr;  // its frames stay allocated: it might still wake up
            continue;
        }
        ++started;
        LOG_DEBUG("smp: CPU %u (APIC ID %u) online", index, apic);
    }
    return started;
}

void stop_others()
{
    request_stop_all();
    if (lapic::ready() && online_count() > 1) lapic::send_nmi_all_but_self();
}

}  // namespace smp
}  // namespace arch
