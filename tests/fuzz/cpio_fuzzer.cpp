// libFuzzer target for the cpio newc reader. Inputs are short (-max_len=64)
// and a header alone is 110 bytes, so byte 0 picks how the rest is used:
//   bit 7 set: the rest is the archive itself (garbage, short headers);
//   otherwise byte 0 picks one of the valid archives built below (newc, crc,
//   hard links, concatenated archives, odd names) and each following 3 bytes
//   are one patch (op in the top 2 bits, 14-bit offset, value): poke a byte,
//   write 8 hex digits of a value from a table of boundary cases, cut the
//   archive there, or poke a path character ('.', '/', NUL, '0').
// The patched archive is copied to a buffer of exactly its size, validated,
// iterated with every data byte read, and searched for each name it holds
// and a few fixed ones. Besides crashes and sanitizer reports, a finding is:
// an entry or find() result outside the buffer, an error without a message,
// or a name from iteration that find() calls not_found.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/files/cpio.hpp"

namespace {

using vmm::files::CpioArchive;
using vmm::files::CpioEntry;

constexpr uint32_t reg = 0100644, dir = 0040755, lnk = 0120777;

void put(std::vector<uint8_t>& a, bool crc, const char* name, uint32_t mode, const std::string& data, uint32_t ino = 1,
         uint32_t nlink = 1)
{
    uint32_t sum = 0;
    for (unsigned char c : data) sum += c;
    char h[111];
    snprintf(h, sizeof h, "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", crc ? "070702" : "070701", ino, mode,
             0u, 0u, nlink, 0u, uint32_t(data.size()), 0u, 0u, 0u, 0u, uint32_t(strlen(name) + 1), crc ? sum : 0u);
    a.insert(a.end(), h, h + 110);
    a.insert(a.end(), name, name + strlen(name) + 1);
    while (a.size() % 4) a.push_back(0);
    a.insert(a.end(), data.begin(), data.end());
    while (a.size() % 4) a.push_back(0);
}

void trailer(std::vector<uint8_t>& a, bool crc) { put(a, crc, "TRAILER!!!", 0, "", 0, 1); }

std::vector<std::vector<uint8_t>> bases()
{
    std::vector<std::vector<uint8_t>> b(4);
    put(b[0], false, ".", dir, "");
    put(b[0], false, "./boot/vmlinuz", reg, "kernel");
    put(b[0], false, "etc/xl.cfg", reg, "name=\"g\"\n");
    trailer(b[0], false);
    put(b[1], true, "a", reg, "abc");
    put(b[1], true, "l", lnk, "a");
    put(b[1], true, "a", reg, "newer");
    trailer(b[1], true);
    put(b[2], false, "x", reg, "", 5, 2);
    put(b[2], false, "y", reg, "shared", 5, 2);
    trailer(b[2], false);
    b[2].insert(b[2].end(), 4, 0);
    put(b[2], true, "z", reg, "second", 5, 2);
    trailer(b[2], true);
    put(b[3], false, "/abs//x/./y/", reg, "1");
    put(b[3], false, "d", dir, "");
    put(b[3], false, "d/f", reg, std::string(17, 'q'));
    trailer(b[3], false);
    return b;
}

constexpr uint32_t hex_values[] = {0, 1, 3, 4, 0x6e, 0x6f, 0x100, 0xfff, 0x1000, 0x1001, 0x7fffffff, 0x80000000,
                                   0xfffffff0, 0xfffffffe, 0xffffffff, 0100644};
constexpr char path_chars[] = {'.', '/', '\0', '0'};

void check(bool ok)
{
    if (!ok) __builtin_trap();
}

void run(const std::vector<uint8_t>& input)
{
    std::vector<uint8_t> buf(input);
    const uint8_t* p = buf.empty() ? nullptr : buf.data();
    CpioArchive arc(p, buf.size());
    lib::Status s = arc.validate();
    check(arc.validate().error() == s.error());
    auto inside = [&](const CpioEntry& e) {
        check(e.data >= p && size_t(e.data - p) <= buf.size() && e.size <= buf.size() - size_t(e.data - p));
        check(e.offset < buf.size());
        const char* n = e.name.data();
        check(reinterpret_cast<const uint8_t*>(n) >= p &&
              reinterpret_cast<const uint8_t*>(n) + e.name.size() <= p + buf.size());
    };
    if (!s) {
        check(arc.error_message()[0] != '\0' && arc.error_offset() <= buf.size());
        check(arc.begin() == arc.end());
        check(arc.find("a").error() == s.error());
        return;
    }
    check(arc.error_message()[0] == '\0');
    size_t count = 0;
    volatile uint32_t sink = 0;
    for (const CpioEntry& e : arc) {
        inside(e);
        for (uint32_t i = 0; i < e.size; ++i) sink = sink + e.data[i];
        auto f = arc.find(e.name);
        check(f.ok() || f.error() == lib::Error::unsupported);
        if (f.ok()) {
            inside(*f);
            check(vmm::files::same_path(f->name, e.name));
        }
        ++count;
    }
    check(count == arc.entry_count());
    for (const char* path : {"boot/vmlinuz", "etc/xl.cfg", "a", "x", "y", "z", "abs/x/y", "d/f", "", "..", "a/../a"}) {
        auto f = arc.find(path);
        if (f.ok()) inside(*f);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const std::vector<std::vector<uint8_t>> base = bases();
    if (size == 0) return 0;
    if (data[0] & 0x80) {
        run(std::vector<uint8_t>(data + 1, data + size));
        return 0;
    }
    std::vector<uint8_t> a = base[data[0] % base.size()];
    for (size_t i = 1; i + 3 <= size && !a.empty(); i += 3) {
        unsigned op = data[i] >> 6;
        size_t off = (size_t(data[i] & 0x3f) << 8 | data[i + 1]) % a.size();
        uint8_t v = data[i + 2];
        switch (op) {
        case 0: a[off] = v; break;
        case 1: {
            char hex[9];
            snprintf(hex, sizeof hex, "%08X", hex_values[v % (sizeof hex_values / sizeof hex_values[0])]);
            for (size_t k = 0; k < 8 && off + k < a.size(); ++k) a[off + k] = uint8_t(hex[k]);
            break;
        }
        case 2: a.resize(off); break;
        case 3: a[off] = uint8_t(path_chars[v % sizeof path_chars]); break;
        }
    }
    run(a);
    return 0;
}
