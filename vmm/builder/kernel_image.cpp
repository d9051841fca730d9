#include "vmm/builder/kernel_image.hpp"

#include <cstring>

#include "lib/elf.hpp"
#include "vmm/builder/linux_loader.hpp"
#include "vmm/builder/multiboot2_loader.hpp"
#include "vmm/builder/multiboot_loader.hpp"

namespace vmm::builder {
namespace {

constexpr uint32_t mb1_magic = 0x1badb002;
constexpr uint32_t hdrs = 0x53726448;

uint32_t read32(const uint8_t* p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

// The magic at `align`-aligned offsets, with `header` bytes of header after
// it inside both `search` and the file (as the loaders look for it).
bool has_magic(const uint8_t* image, size_t size, uint32_t magic, size_t align, size_t header, size_t search)
{
    size_t limit = size < search ? size : search;
    for (size_t off = 0; off + header <= limit; off += align)
        if (read32(image + off) == magic) return true;
    return false;
}

}  // namespace

KernelKind detect_kernel(const uint8_t* image, size_t size)
{
    if (!image) return KernelKind::unknown;
    bool elf = size >= 4 && memcmp(image, "\x7f" "ELF", 4) == 0;
    if (elf && lib::elf::find_note(image, size, "Xen", xen_elfnote_phys32_entry)) return KernelKind::elf_pvh;
    if (size >= 0x206 && read32(image + 0x202) == hdrs) return KernelKind::bzimage;
    if (has_magic(image, size, mb1_magic, 4, 12, 8192)) return KernelKind::multiboot1;
    if (has_magic(image, size, multiboot2_header_magic, 8, 16, 32768)) return KernelKind::multiboot2;
    return elf ? KernelKind::elf_plain : KernelKind::unknown;
}

const char* kernel_kind_name(KernelKind kind)
{
    switch (kind) {
    case KernelKind::elf_pvh: return "PVH ELF";
    case KernelKind::bzimage: return "bzImage";
    case KernelKind::multiboot1: return "Multiboot";
    case KernelKind::multiboot2: return "Multiboot2";
    case KernelKind::elf_plain: return "ELF";
    case KernelKind::unknown: break;
    }
    return "unknown";
}

lib::Result<FlatBoot> load_kernel(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                  const char** why)
{
    switch (detect_kernel(image, size)) {
    case KernelKind::elf_pvh: return load_pvh(image, size, mem, args, why);
    case KernelKind::bzimage: return load_bzimage(image, size, mem, args, why);
    case KernelKind::multiboot1: {
        auto r = TRY(load_multiboot(image, size, mem, args.cmdline, args.modules, args.module_count, why));
        return FlatBoot{r.entry, r.magic, r.info, 0};
    }
    case KernelKind::multiboot2: return load_multiboot2(image, size, mem, args, why);
    case KernelKind::elf_plain: return load_elf_plain(image, size, mem, args, why);
    case KernelKind::unknown: break;
    }
    if (why) *why = "not a kernel this builder can load (PVH or plain ELF, bzImage, Multiboot, Multiboot2)";
    return lib::err(lib::Error::unsupported);
}

}  // namespace vmm::builder
