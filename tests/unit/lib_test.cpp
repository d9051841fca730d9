#include <gtest/gtest.h>

#include <cstring>

#include "lib/crc32.hpp"
#include "lib/format.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"

using lib::Error;
using lib::Result;

TEST(Format, IntegersAndPadding)
{
    char b[64];
    lib::format(b, sizeof b, "%d|%5u|%-4x|%08lx|%+d", -42, 7u, 0xabu, 0xdeadbeeful, 3);
    EXPECT_STREQ(b, "-42|    7|ab  |deadbeef|+3");
    lib::format(b, sizeof b, "%#x %#06x", 0x2badb002u, 0x1fu);
    EXPECT_STREQ(b, "0x2badb002 0x001f");
}

TEST(Format, StringsPointersAndTruncation)
{
    char b[8];
    size_t n = lib::format(b, sizeof b, "%s-%.2s", "abcdef", "xyz");
    EXPECT_EQ(n, 9u);  // full length reported like snprintf
    EXPECT_STREQ(b, "abcdef-");
    char p[32];
    lib::format(p, sizeof p, "%p %s", reinterpret_cast<void*>(0x1000), static_cast<const char*>(nullptr));
    EXPECT_STREQ(p, "0x1000 (null)");
}

TEST(Format, MinInt64)
{
    char b[32];
    lib::format(b, sizeof b, "%lld", static_cast<long long>(INT64_MIN));
    EXPECT_STREQ(b, "-9223372036854775808");
}

TEST(Str, ParseNumbers)
{
    EXPECT_EQ(lib::parse_u64("123").value(), 123u);
    EXPECT_EQ(lib::parse_u64("0x1F").value(), 31u);
    EXPECT_EQ(lib::parse_u64("").error(), Error::invalid);
    EXPECT_EQ(lib::parse_u64("12a").error(), Error::invalid);
    EXPECT_EQ(lib::parse_u64("18446744073709551616").error(), Error::out_of_range);
    EXPECT_EQ(lib::parse_size("512M").value(), 512ull << 20);
    EXPECT_EQ(lib::parse_size("4g").value(), 4ull << 30);
    EXPECT_EQ(lib::parse_size("99999999999T").error(), Error::out_of_range);
}

TEST(Str, SplitAndTrim)
{
    lib::StrView s("a=b,c");
    EXPECT_TRUE(s.split_first('=') == "a");
    EXPECT_TRUE(s == "b,c");
    EXPECT_TRUE(lib::StrView("  x \t").trim() == "x");
    EXPECT_TRUE(lib::StrView("abc").substr(5).empty());
}

namespace {
Result<int> half(int v)
{
    if (v % 2) return lib::err(Error::invalid);
    return v / 2;
}
Result<int> quarter(int v)
{
    int h = TRY(half(v));
    return TRY(half(h));
}
}  // namespace

TEST(Result, TryPropagates)
{
    EXPECT_EQ(quarter(8).value(), 2);
    EXPECT_EQ(quarter(6).error(), Error::invalid);
    lib::Status ok;
    EXPECT_TRUE(ok.ok());
}

TEST(Crc32, KnownVectors)
{
    // The IEEE CRC-32 check value, and what zlib's crc32() gives for these.
    EXPECT_EQ(lib::crc32("", 0), 0u);
    EXPECT_EQ(lib::crc32("123456789", 9), 0xcbf43926u);
    EXPECT_EQ(lib::crc32("The quick brown fox jumps over the lazy dog", 43), 0x414fa339u);
    uint8_t zeros[32] = {};
    EXPECT_EQ(lib::crc32(zeros, sizeof zeros), 0x190a55adu);
    // Continued over pieces (as the GPT array is summed sector by sector).
    EXPECT_EQ(lib::crc32("56789", 5, lib::crc32("1234", 4)), 0xcbf43926u);
}
