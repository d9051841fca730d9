// A guest for the console: prints a tick line every half second, echoes
// what is typed on its serial line, reports NMIs and breaks on the line
// (xl trigger nmi, xl sysrq), and powers off (debug-exit value 0) when it
// reads 'q'. Used by the Dom0 tests for `xl console`, pause/unpause and
// the life cycle, and as the demo guest in Dom0's files.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {
constexpr uint16_t com1 = 0x3f8;
constexpr uint8_t lsr_data_ready = 0x01;
constexpr uint8_t lsr_break = 0x10;
}  // namespace

int guest_main(uint32_t)
{
    print("console_demo: up; type something, 'q' powers off\n");
    uint64_t khz = cpuid(0x40000010).a;
    if (!khz) khz = 1'000'000;
    uint64_t tick = 0, next = rdtsc(), nmis = 0;
    for (;;) {
        if (guest_nmi_count != nmis) {
            nmis = guest_nmi_count;
            print("console_demo: NMI %lu\n", nmis);
        }
        // Every LSR read clears a break indication: look at each one.
        auto line_status = [] {
            uint8_t lsr = inb(com1 + 5);
            if (lsr & lsr_break) print("console_demo: break on the line (SysRq comes next)\n");
            return lsr;
        };
        while (line_status() & lsr_data_ready) {
            char c = char(inb(com1));
            if (c == 'q') {
                print("console_demo: powering off\n");
                return verdict("console_demo");
            }
            if (c >= 0x20 && c < 0x7f) print("console_demo: got '%c'\n", c);
        }
        if (rdtsc() >= next) {
            print("console_demo: tick %lu\n", tick++);
            next = rdtsc() + khz * 500;
        }
        busy_wait_us(20'000);  // poll the line 50 times a second
    }
}
