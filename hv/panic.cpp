#include "hv/panic.hpp"

#include <cstdarg>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/smp.hpp"
#include "hv/console.hpp"
#include "lib/format.hpp"

extern "C" [[noreturn]] void rt_panic(const char* fmt, ...)
{
    arch::cli();
    char line[256];
    size_t n = lib::format(line, sizeof line, "hv: FATAL: ");
    va_list ap;
    va_start(ap, fmt);
    lib::vformat(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    // Straight to the UART: the console lock may be held by this very CPU.
    hv::console::write_raw(line);
    hv::console::write_raw("\n");
    hv::console::ring().append(lib::LogLevel::error, line);
    arch::smp::stop_others();
    arch::halt_forever();
}
