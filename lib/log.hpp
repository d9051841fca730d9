// Logging front end for code shared by the kernel, Dom0 and host tests. Each
// world supplies log_write(): the kernel puts the line in its log ring and on
// the console; host tests capture lines so they can assert on messages.
#pragma once

#include <cstdarg>

namespace lib {

enum class LogLevel : unsigned char { error = 0, warn = 1, info = 2, debug = 3 };

constexpr const char* log_level_name(LogLevel l)
{
    switch (l) {
    case LogLevel::error: return "error";
    case LogLevel::warn: return "warn";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
    }
    return "?";
}

// Supplied by the environment. `line` has no trailing newline.
void log_write(LogLevel level, const char* line);

void vlog(LogLevel level, const char* fmt, va_list ap);
void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace lib

#define LOG_ERROR(...) ::lib::log(::lib::LogLevel::error, __VA_ARGS__)
#define LOG_WARN(...) ::lib::log(::lib::LogLevel::warn, __VA_ARGS__)
#define LOG_INFO(...) ::lib::log(::lib::LogLevel::info, __VA_ARGS__)
#define LOG_DEBUG(...) ::lib::log(::lib::LogLevel::debug, __VA_ARGS__)
