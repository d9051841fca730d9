#include "vmm/builder/e820.hpp"

namespace vmm::builder {

E820Map build_e820(uint64_t mem_size, uint64_t high)
{
    E820Map m{};
    auto add = [&](uint64_t base, uint64_t end, uint32_t type) {
        if (end > base) m.entries[m.count++] = E820Entry{base, end - base, type};
    };
    auto clamp = [&](uint64_t a) { return a < mem_size ? a : mem_size; };
    add(0, clamp(e820_low_end), e820_type::ram);
    add(e820_low_end, clamp(e820_high_start), e820_type::reserved);
    add(e820_high_start, mem_size, e820_type::ram);
    add(ram_high_base, ram_high_base + high, e820_type::ram);
    return m;
}

uint32_t e820_mem_lower_kib(const E820Map& map)
{
    for (size_t i = 0; i < map.count; ++i)
        if (map.entries[i].addr == 0 && map.entries[i].type == e820_type::ram) return uint32_t(map.entries[i].size >> 10);
    return 0;
}

uint32_t e820_mem_upper_kib(const E820Map& map)
{
    for (size_t i = 0; i < map.count; ++i) {
        const E820Entry& e = map.entries[i];
        if (e.addr != e820_high_start || e.type != e820_type::ram) continue;
        uint64_t end = e.addr + e.size;
        if (end > (4ull << 30)) end = 4ull << 30;
        return uint32_t((end - e820_high_start) >> 10);
    }
    return 0;
}

}  // namespace vmm::builder
