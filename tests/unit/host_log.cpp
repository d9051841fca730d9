// Host-side log sink: lines go to stderr and into a buffer that tests inspect
// to check that bad input was reported with a message.
#include "tests/unit/host_log.hpp"

#include <cstdio>

#include "lib/log.hpp"

namespace test {
std::vector<std::string>& log_lines()
{
    static std::vector<std::string> lines;
    return lines;
}
bool log_contains(const std::string& needle)
{
    for (const auto& l : log_lines())
        if (l.find(needle) != std::string::npos) return true;
    return false;
}
}  // namespace test

namespace lib {
void log_write(LogLevel level, const char* line)
{
    std::fprintf(stderr, "[%s] %s\n", log_level_name(level), line);
    test::log_lines().emplace_back(line);
}
}  // namespace lib
