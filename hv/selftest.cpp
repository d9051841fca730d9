#include "hv/selftest.hpp"

#include "lib/log.hpp"

extern "C" char __text_start[];

namespace hv::selftest {
namespace {

__attribute__((noinline)) unsigned recurse(unsigned depth)
{
    volatile char pad[512];
    pad[0] = char(depth);
    if (depth > 1'000'000) return 0;  // never reached: the guard page is hit first
    return recurse(depth + 1) + pad[0];
}

}  // namespace

void run(lib::StrView name)
{
    if (name.empty()) return;
    LOG_INFO("selftest: %.*s", int(name.size()), name.data());
    if (name == "pagefault") {
        volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(0xdead0000ull);
        (void)*p;
    } else if (name == "write-text") {
        volatile char* t = __text_start;
        *t = 0x90;
    } else if (name == "stack-overflow") {
        (void)recurse(0);
    } else {
        LOG_WARN("selftest: unknown test '%.*s' ignored", int(name.size()), name.data());
        return;
    }
    LOG_ERROR("selftest: %.*s did not fault", int(name.size()), name.data());
}

}  // namespace hv::selftest
