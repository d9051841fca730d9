// A QEMU -kernel style test kernel: prints its Multiboot command line and
// modules (name, size, first bytes), then writes the status its command line
// asks for (`status=N`, default 0) to the debug-exit port, so a harness can
// check that the status it chose comes back: QEMU gives (N << 1) | 1.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {

struct MultibootInfo {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
};
struct Module {
    uint32_t start, end, string, reserved;
};

uint32_t status_from(const char* s)
{
    for (; *s; ++s) {
        if (__builtin_memcmp(s, "status=", 7) != 0) continue;
        uint32_t v = 0;
        for (s += 7; *s >= '0' && *s <= '9'; ++s) v = v * 10 + uint32_t(*s - '0');
        return v;
    }
    return 0;
}

}  // namespace

int guest_main(uint32_t mbi_addr)
{
    const auto* mbi = reinterpret_cast<const MultibootInfo*>(uintptr_t(mbi_addr));
    const char* cmdline = (mbi->flags & (1u << 2)) ? reinterpret_cast<const char*>(uintptr_t(mbi->cmdline)) : "";
    print("exit_status: cmdline '%s'\n", cmdline);
    uint32_t n = (mbi->flags & (1u << 3)) ? mbi->mods_count : 0;
    const auto* mods = reinterpret_cast<const Module*>(uintptr_t(mbi->mods_addr));
    for (uint32_t i = 0; i < n; ++i) {
        const char* text = reinterpret_cast<const char*>(uintptr_t(mods[i].start));
        uint32_t size = mods[i].end - mods[i].start;
        char head[17] = {};
        for (uint32_t k = 0; k < 16 && k < size && text[k] >= ' ' && text[k] < 0x7f; ++k) head[k] = text[k];
        print("exit_status: module %u '%s' %u bytes '%s'\n", i, reinterpret_cast<const char*>(uintptr_t(mods[i].string)),
              size, head);
    }
    uint32_t status = status_from(cmdline);
    print("exit_status: exiting with %u\n", status);
    guest_exit(status);
}
