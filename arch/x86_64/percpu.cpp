#include "arch/x86_64/percpu.hpp"

#include "arch/x86_64/address_space.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.hpp"
#include "hv/mem/frames.hpp"

namespace arch {

PerCpu* cpus[max_cpus];

bool percpu_ready() { return rdmsr(msr::gs_base) != 0; }

lib::Result<PerCpu*> create_percpu(unsigned index, uint32_t apic_id)
{
    if (index >= max_cpus) return lib::err(lib::Error::out_of_range);
    constexpr size_t frames = (sizeof(PerCpu) + page_size - 1) / page_size;
    uint64_t frame = TRY(hv::mem::alloc_frames({.count = frames}));
    auto* c = phys_to_virt<PerCpu>(frame);
    *c = PerCpu{};
    for (auto& b : c->io_bitmap) b = 0xff;
    c->self = c;
    c->index = index;
    c->apic_id = apic_id;

    // [guard][kernel stack][guard][IST1][guard][IST2][guard][IST3]
    uint64_t va = stack_area_base + index * stack_slot_size + page_size;
    TRY(map_fresh(va, kernel_stack_size));
    c->stack_bottom = va;
    c->stack_top = va + kernel_stack_size;
    va += kernel_stack_size;
    for (unsigned ist = 1; ist <= 3; ++ist) {
        va += page_size;  // guard
        TRY(map_fresh(va, ist_stack_size));
        va += ist_stack_size;
        c->ist_top[ist] = va;
    }
    static_assert(page_size + kernel_stack_size + 3 * (page_size + ist_stack_size) <= stack_slot_size);
    cpus[index] = c;
    return c;
}

void activate_percpu(PerCpu& c)
{
    wrmsr(msr::gs_base, reinterpret_cast<uint64_t>(&c));
    for (unsigned ist = 1; ist <= 3; ++ist) c.tss.ist[ist - 1] = c.ist_top[ist];
    c.tss.rsp[0] = c.stack_top;
    load_gdt_tss(c.gdt, c.tss, sizeof c.io_bitmap);
    load_idt();
}

}  // namespace arch
