#include "hv/console.hpp"

#include "arch/x86_64/spinlock.hpp"
#include "drivers/uart/uart16550.hpp"

namespace hv::console {
namespace {
char ring_storage[64 * 1024];
LogRing log_ring(ring_storage, sizeof ring_storage);
drivers::Uart16550 uart;
lib::LogLevel threshold = lib::LogLevel::info;
arch::SpinLock lock;

size_t length(const char* s)
{
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}
}  // namespace

void init_early() { uart.init(drivers::Uart16550::com_base[0], 115200); }

void configure(uint16_t port_base, uint32_t baud)
{
    arch::SpinGuard g(lock);
    if (port_base == 0) {
        uart = drivers::Uart16550{};
        return;
    }
    uart.init(port_base, baud);
}

void set_level(lib::LogLevel level) { threshold = level; }

void hand_line_to_dom0()
{
    if (static_cast<int>(threshold) > static_cast<int>(lib::LogLevel::warn)) threshold = lib::LogLevel::warn;
}

LogRing& ring() { return log_ring; }

void write_raw(const char* s)
{
    uart.write(s, length(s));
}

void write_dom0(const char* s, size_t n)
{
    arch::SpinGuard g(lock);
    uart.write(s, n);
}

uint64_t read_log(uint64_t from_seq, char* out, size_t cap, size_t* len)
{
    arch::SpinGuard g(lock);
    return log_ring.read(from_seq, out, cap, len);
}

bool input_ready()
{
    arch::SpinGuard g(lock);
    return uart.can_read();
}

size_t read_input(char* buf, size_t cap)
{
    arch::SpinGuard g(lock);
    size_t n = 0;
    while (n < cap) {
        int c = uart.get();
        if (c < 0) break;
        buf[n++] = char(c);
    }
    return n;
}

}  // namespace hv::console

namespace lib {
void log_write(LogLevel level, const char* line)
{
    using namespace hv::console;
    arch::SpinGuard g(lock);
    log_ring.append(level, line);
    if (static_cast<int>(level) <= static_cast<int>(threshold)) {
        uart.write(line, length(line));
        uart.write("\n", 1);
    }
}
}  // namespace lib
