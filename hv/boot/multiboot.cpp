#include "hv/boot/multiboot.hpp"

#include "hv/boot/boot_info_builder.hpp"
#include "hv/boot/multiboot1_abi.hpp"
#include "hv/boot/multiboot2_abi.hpp"
#include "lib/log.hpp"

namespace hv::boot {

lib::Status parse_multiboot(const lib::PhysReader& mem, uint32_t magic, uint64_t info_phys, BootInfo& out)
{
    // BootInfo is several KiB: clear it in place rather than through a
    // temporary on a small boot stack.
    __builtin_memset(static_cast<void*>(&out), 0, sizeof out);
    switch (magic) {
    case mb1::boot_magic: return detail::parse_multiboot1(mem, info_phys, out);
    case mb2::boot_magic: return detail::parse_multiboot2(mem, info_phys, out);
    default:
        LOG_WARN("boot: unknown boot loader magic %#x", magic);
        return lib::err(lib::Error::invalid);
    }
}

}  // namespace hv::boot
