#include "arch/x86_64/ref_clock.hpp"

namespace arch::ref_clock {
namespace {
uint16_t pm_port = 0;
bool pm_32bit = false;
}  // namespace

void set_pm_timer(uint16_t port, bool is_32bit)
{
    pm_port = port;
    pm_32bit = is_32bit;
}
bool pm_timer_available() { return pm_port != 0; }
uint32_t pm_timer_read() { return inl(pm_port) & pm_timer_mask(); }
uint32_t pm_timer_mask() { return pm_32bit ? 0xffffffffu : 0x00ffffffu; }

}  // namespace arch::ref_clock
