// Log ring behind `xl dmesg`: ordering, incremental reads by sequence number,
// whole-line eviction when full, and hostile input (lines longer than the
// ring, embedded newlines, a reader's buffer too small for one line).
#include <gtest/gtest.h>

#include <string>

#include "hv/log_ring.hpp"

using lib::LogLevel;

namespace {
std::string read_all(const hv::LogRing& r, uint64_t from = 0, uint64_t* next = nullptr)
{
    char out[4096];
    size_t len = 0;
    uint64_t n = r.read(from, out, sizeof out, &len);
    if (next) *next = n;
    return std::string(out, len);
}
}  // namespace

TEST(LogRing, KeepsLinesInOrderWithLevels)
{
    char buf[256];
    hv::LogRing r(buf, sizeof buf);
    r.append(LogLevel::info, "hv: booting");
    r.append(LogLevel::warn, "acpi: bad table");
    EXPECT_EQ(read_all(r), "2hv: booting\n1acpi: bad table\n");
    EXPECT_EQ(r.next_seq(), 2u);
}

TEST(LogRing, IncrementalReads)
{
    char buf[256];
    hv::LogRing r(buf, sizeof buf);
    r.append(LogLevel::info, "one");
    uint64_t next = 0;
    EXPECT_EQ(read_all(r, 0, &next), "2one\n");
    r.append(LogLevel::debug, "two");
    EXPECT_EQ(read_all(r, next, &next), "3two\n");
    EXPECT_EQ(read_all(r, next, &next), "");
    EXPECT_EQ(next, 2u);
}

TEST(LogRing, EvictsOldestWholeLines)
{
    char buf[32];
    hv::LogRing r(buf, sizeof buf);
    for (int i = 0; i < 10; ++i) r.append(LogLevel::info, ("line" + std::to_string(i)).c_str());
    std::string s = read_all(r);
    // Only whole, most recent lines survive, and the first kept sequence
    // number moved on.
    EXPECT_EQ(s.substr(s.size() - 7), "2line9\n");
    EXPECT_EQ(s.front(), '2');
    EXPECT_GT(r.first_seq(), 0u);
    EXPECT_LE(s.size(), sizeof buf);
}

TEST(LogRing, HostileLines)
{
    char buf[16];
    hv::LogRing r(buf, sizeof buf);
    r.append(LogLevel::error, "a line far longer than the whole ring buffer");
    std::string s = read_all(r);
    EXPECT_EQ(s.size(), 16u);  // cut to fit, still one line
    EXPECT_EQ(s.back(), '\n');
    r.append(LogLevel::info, "x\ny");  // an embedded newline must not split records
    EXPECT_EQ(read_all(r, r.next_seq() - 1), "2x y\n");
    char tiny[3];
    size_t len = 99;
    r.read(r.first_seq(), tiny, sizeof tiny, &len);  // too small for any line
    EXPECT_EQ(len, 0u);
    EXPECT_EQ(tiny[0], '\0');
}
