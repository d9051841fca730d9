#include "lib/log.hpp"

#include "lib/format.hpp"

namespace lib {

void vlog(LogLevel level, const char* fmt, va_list ap)
{
    char line[256];
    vformat(line, sizeof line, fmt, ap);
    log_write(level, line);
}

void log(LogLevel level, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

}  // namespace lib
