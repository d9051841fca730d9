// The decoder against GNU objdump as an independent oracle, at test time:
// thousands of random instructions (biased towards prefixes and escapes) in
// 16-, 32- and 64-bit mode, each followed by 15 NOPs so both decoders are
// back in step at the next candidate. Skipped when objdump is not installed.
//
// Known, deliberate differences that are not counted as mismatches:
//  - objdump prints an ignored REX (or a prefix group ending in one) as an
//    instruction of its own and then decodes the rest without the earlier
//    legacy prefixes; the CPU keeps them (SDM Vol. 2A §2.2.1);
//  - objdump folds FWAIT (9B) into the following x87 instruction;
//  - objdump accepts VEX/EVEX after 66/F2/F3/LOCK/REX (the CPU raises #UD),
//    MOV to/from test registers (0F 24/26, 386/486 only) and VIA PadLock
//    (0F A6/A7): we report `invalid` for those.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "hv/x86/decoder.hpp"
#include "tests/unit/x86/fake_guest.hpp"

using namespace hv::x86;

namespace {

struct Line {
    size_t bytes;
    std::string text;
};

bool have_objdump() { return std::system("objdump --version >/dev/null 2>&1") == 0; }

std::vector<uint8_t> candidate(x86test::Rng& rng, bool m64)
{
    static const uint8_t pfx[] = {0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36};
    std::vector<uint8_t> b;
    const unsigned npfx[] = {0, 0, 0, 1, 1, 2, 3};
    for (unsigned i = npfx[rng.below(7)]; i > 0; --i) b.push_back(pfx[rng.below(sizeof pfx)]);
    if (m64 && rng.below(5) < 2) b.push_back(static_cast<uint8_t>(0x40 | rng.below(16)));
    const unsigned r = rng.below(100);
    if (r < 45) b.push_back(static_cast<uint8_t>(rng.next()));
    else if (r < 80) b.insert(b.end(), {0x0f, static_cast<uint8_t>(rng.next())});
    else if (r < 87) b.insert(b.end(), {0x0f, static_cast<uint8_t>(rng.below(2) ? 0x38 : 0x3a), static_cast<uint8_t>(rng.next())});
    else b.push_back(std::vector<uint8_t>{0xc4, 0xc5, 0x62, 0x8f}[rng.below(4)]);
    while (b.size() < 15) b.push_back(static_cast<uint8_t>(rng.next()));
    b.resize(15);
    return b;
}

bool only_prefixes(const std::string& text)
{
    std::istringstream in(text);
    std::string w;
    bool any = false;
    while (in >> w) {
        static const char* const names[] = {"es", "cs", "ss", "ds", "fs", "gs", "data16", "data32", "addr16", "addr32",
                                            "lock", "repz", "repnz", "rep", "bnd", "notrack"};
        bool known = w.rfind("rex", 0) == 0;
        for (const char* n : names) known = known || w == n;
        if (!known) return false;
        any = true;
    }
    return any;
}

std::map<size_t, Line> objdump(const std::string& path, const char* machine)
{
    std::map<size_t, Line> raw;
    const std::string cmd = std::string("objdump -D -b binary -m ") + machine + " --insn-width=16 " + path;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return raw;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) {
        std::string s(buf);
        if (!s.empty() && s.back() == '\n') s.pop_back();
        const size_t t1 = s.find('\t');
        if (t1 == std::string::npos || t1 == 0 || s[t1 - 1] != ':') continue;
        char* end = nullptr;
        const size_t off = std::strtoul(s.c_str(), &end, 16);
        if (end == s.c_str()) continue;
        const size_t t2 = s.find('\t', t1 + 1);
        const std::string hex = s.substr(t1 + 1, t2 == std::string::npos ? std::string::npos : t2 - t1 - 1);
        std::istringstream hs(hex);
        std::string tok;
        size_t n = 0;
        while (hs >> tok) ++n;
        raw[off] = {n, t2 == std::string::npos ? "" : s.substr(t2 + 1)};
    }
    pclose(p);
    // Fold prefix-only lines into the next one, marking the split.
    std::map<size_t, Line> merged;
    for (auto it = raw.begin(); it != raw.end();) {
        Line l = it->second;
        const size_t at = it->first;
        bool split = false;
        ++it;
        while (only_prefixes(l.text) && it != raw.end()) {
            l.bytes += it->second.bytes;
            l.text = it->second.text;
            split = true;
            ++it;
        }
        if (split) l.text = "SPLIT " + l.text;
        merged[at] = l;
    }
    return merged;
}

bool invalid_on_cpu_but_not_objdump(const std::vector<uint8_t>& b)
{
    size_t i = 0;
    while (i < b.size() && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 || b[i] == 0xf0 || b[i] == 0x2e ||
                            b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x64 || b[i] == 0x65 || b[i] == 0x36 ||
                            (b[i] & 0xf0) == 0x40))
        ++i;
    if (i + 1 >= b.size()) return false;
    const uint8_t op = b[i], op2 = b[i + 1];
    if ((op == 0xc4 || op == 0xc5 || op == 0x62) && i > 0) return true;  // VEX/EVEX after a prefix
    if (op == 0x0f && (op2 == 0x24 || op2 == 0x26 || op2 == 0xa6 || op2 == 0xa7)) return true;
    return false;
}

void compare_mode(CpuMode mode, const char* machine, uint64_t seed)
{
    x86test::Rng rng(seed);
    const size_t n = 4000;
    std::vector<std::vector<uint8_t>> cands;
    std::vector<uint8_t> stream;
    for (size_t i = 0; i < n; ++i) {
        cands.push_back(candidate(rng, mode == CpuMode::bits64));
        stream.insert(stream.end(), cands.back().begin(), cands.back().end());
        stream.insert(stream.end(), 15, 0x90);
    }
    char path[] = "/tmp/hv_x86_objdump_XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, stream.data(), stream.size()), static_cast<ssize_t>(stream.size()));
    close(fd);
    const auto od = objdump(path, machine);
    unlink(path);
    ASSERT_FALSE(od.empty());

    size_t matched = 0, mismatched = 0;
    for (size_t i = 0; i < n; ++i) {
        const auto it = od.find(i * 30);
        ASSERT_NE(it, od.end()) << "lost sync at candidate " << i;
        const Line& l = it->second;
        const auto& b = cands[i];
        if (l.text.rfind("SPLIT", 0) == 0) continue;
        bool fwait = false;
        for (size_t k = 0; k < l.bytes && k < b.size(); ++k) fwait = fwait || b[k] == 0x9b;
        if (fwait) continue;
        const bool od_bad = l.text.find("(bad)") != std::string::npos || l.text.rfind(".byte", 0) == 0;
        if (od_bad) continue;  // undefined to objdump; the CPU decides, we only need to not crash
        auto r = decode(b.data(), b.size(), mode);
        if (!r.ok()) {
            EXPECT_TRUE(r.error() == lib::Error::invalid && invalid_on_cpu_but_not_objdump(b))
                << "we reject what objdump decodes: " << l.text << " (" << lib::error_name(r.error()) << ")";
            continue;
        }
        if (r->length == l.bytes) {
            ++matched;
        } else {
            ++mismatched;
            std::ostringstream hex;
            for (uint8_t x : b) hex << std::hex << int(x) << ' ';
            ADD_FAILURE() << "length " << int(r->length) << " vs objdump " << l.bytes << ": " << hex.str() << "| "
                          << l.text;
        }
    }
    EXPECT_EQ(mismatched, 0u);
    EXPECT_GT(matched, n / 2);  // the comparison must have exercised most candidates
}

}  // namespace

TEST(DecoderVsObjdump, RandomInstructions64)
{
    if (!have_objdump()) GTEST_SKIP() << "objdump not installed";
    compare_mode(CpuMode::bits64, "i386:x86-64", 1);
}

TEST(DecoderVsObjdump, RandomInstructions32)
{
    if (!have_objdump()) GTEST_SKIP() << "objdump not installed";
    compare_mode(CpuMode::bits32, "i386", 2);
}

TEST(DecoderVsObjdump, RandomInstructions16)
{
    if (!have_objdump()) GTEST_SKIP() << "objdump not installed";
    compare_mode(CpuMode::bits16, "i8086", 3);
}
