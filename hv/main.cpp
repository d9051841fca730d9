// Boot sequence of the hypervisor on the bootstrap processor.
#include <cstdint>

#include "hv/console.hpp"
#include "lib/log.hpp"

extern "C" [[noreturn]] void kernel_main(uint32_t magic, uint32_t info_phys)
{
    hv::console::init_early();
    LOG_INFO("hv: booting (multiboot magic %#x, info at %#x)", magic, info_phys);
    for (;;) asm volatile("cli; hlt");
}
