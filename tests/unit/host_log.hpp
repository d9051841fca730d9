#pragma once

#include <string>
#include <vector>

namespace test {
// Every line logged through lib::log since the last clear.
std::vector<std::string>& log_lines();
bool log_contains(const std::string& needle);
inline void log_clear() { log_lines().clear(); }
}  // namespace test
