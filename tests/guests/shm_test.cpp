// The shared page Dom0 grants every domain it builds (a region at
// 0xfd000000): it carries Dom0's signature and the domain's id, and what the
// guest writes at offset 64 Dom0 reads from its own mapping of the same
// frames (it logs it when the guest stops).
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

int guest_main(uint32_t)
{
    auto* page = reinterpret_cast<volatile char*>(0xfd000000ull);
    char sig[16] = {};
    for (int i = 0; i < 15; ++i) sig[i] = page[i];
    uint32_t id = *reinterpret_cast<volatile uint32_t*>(0xfd000010ull);
    print("shm_test: shared page signature '%s', domain id %u\n", sig, id);
    check(__builtin_memcmp(sig, "hv-shared-page", 15) == 0, "Dom0's signature is in the shared page");
    check(id != 0, "the page names this domain");
    static const char answer[] = "hello from the guest";
    for (unsigned i = 0; i < sizeof answer; ++i) page[64 + i] = answer[i];
    return verdict("shm_test");
}
