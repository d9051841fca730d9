// Guest paging over nested paging: the guest maps the same guest-physical
// memory through a 1 GiB page (when CPUID offers them), a 2 MiB page and a 4 KiB
// page of its own tables and checks that every alias reads and writes the
// same bytes; then unmaps the 4 KiB page and checks the #PF (error code,
// CR2) the hardware reports through the nested translation.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {
alignas(4096) uint64_t pdpt[512];
alignas(4096) uint64_t pd[512];
alignas(4096) uint64_t pt[512];
constexpr uint64_t base = 0x8000000000ull;  // PML4 slot 1
constexpr uint64_t present_rw = 3, large = 0x80;

uint64_t read_cr3()
{
    uint64_t v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
void invlpg(uint64_t va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }
}  // namespace

int guest_main(uint32_t)
{
    bool gb = cpuid(0x80000001).d & (1u << 26);
    auto* pml4 = reinterpret_cast<uint64_t*>(read_cr3() & ~0xfffull);
    if (gb) pdpt[0] = 0 | present_rw | large;  // VA base -> PA 0, 1 GiB
    pdpt[1] = reinterpret_cast<uint64_t>(pd) | present_rw;
    pd[0] = 0x200000 | present_rw | large;  // VA base+1G -> PA 2 MiB, 2 MiB page
    pd[1] = reinterpret_cast<uint64_t>(pt) | present_rw;
    pt[0] = 0x300000 | present_rw;  // VA base+1G+2M -> PA 3 MiB, 4 KiB page
    pml4[1] = reinterpret_cast<uint64_t>(pdpt) | present_rw;
    asm volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");

    auto* id2m = reinterpret_cast<volatile uint64_t*>(0x200000 + 0x1238);
    auto* via2m = reinterpret_cast<volatile uint64_t*>(base + (1ull << 30) + 0x1238);
    *via2m = 0x2222222222222222ull;
    check(*id2m == 0x2222222222222222ull, "2 MiB alias writes the same memory");
    auto* id4k = reinterpret_cast<volatile uint64_t*>(0x300000 + 0x10);
    auto* via4k = reinterpret_cast<volatile uint64_t*>(base + (1ull << 30) + (2ull << 20) + 0x10);
    *id4k = 0x4444444444444444ull;
    check(*via4k == 0x4444444444444444ull, "4 KiB alias reads the same memory");
    if (gb) {
        auto* via1g = reinterpret_cast<volatile uint64_t*>(base + 0x300010);
        check(*via1g == 0x4444444444444444ull, "1 GiB alias reads the same memory");
        print("1 GiB pages: tested\n");
    } else {
        print("1 GiB pages: not offered by this CPU model, skipped\n");
    }

    pt[0] = 0;
    invlpg(reinterpret_cast<uint64_t>(via4k));
    uint64_t target = reinterpret_cast<uint64_t>(via4k);
    int v = GUEST_FAULT_OF("movq (%0), %%r11", "r"(target));
    uint64_t cr2;
    asm volatile("mov %%cr2, %0" : "=r"(cr2));
    check(v == 14, "read through an unmapped 4 KiB entry raises #PF");
    check(guest_last_error == 0, "#PF error code: not present, read, supervisor");
    check(cr2 == target, "CR2 holds the faulting address");
    return verdict("paging_test");
}
