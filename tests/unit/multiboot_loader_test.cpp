// Multiboot1 domain builder (vmm/builder/multiboot_loader): hand-assembled
// ELF32 and ELF64 kernels loaded into a vector-backed guest RAM, then the
// segments, the zeroed bss, the boot registers and every field of the
// Multiboot information (at 0x9000, map at 0x9100, loader name at 0x9200,
// command line at 0x9400) read back from guest memory. The real test guests
// (cpuid_test.elf32 and its ELF64 original) are loaded too when the build
// has made them.
//
// Bad inputs tried: no Multiboot header, the magic at an unaligned offset,
// a wrong checksum, the header at 8 KiB and straddling 8 KiB, not an ELF
// (a flat binary with a header, an ELF of class 3), a segment one byte past
// the end of RAM, a segment after a good one past RAM, segments touching the
// first and the last byte of the 0x9000 page, an ELF64 entry at 4 GiB, a
// command line of exactly 3 KiB and longer, RAM one page short of 2 MiB,
// program headers past the end of the file, segment data past the end of
// the file, every truncation length of a small valid image (each copied to a
// buffer of exactly that size so ASan sees reads past it), and a guest
// memory that refuses writes. Guest memory must be untouched (no write or
// zero call, every byte still the fill pattern) whenever the loader can tell
// before writing.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "vmm/builder/multiboot_loader.hpp"

using lib::Error;
using vmm::builder::GuestMemory;
using vmm::builder::load_multiboot;
using vmm::builder::MultibootBoot;

namespace {

constexpr uint8_t fill = 0xa5;
constexpr uint64_t mib = 1ull << 20;

// Guest RAM: `backing` bytes of storage; size() may claim more (for a large
// domain whose high memory the loader never touches).
class VecMemory final : public GuestMemory {
public:
    explicit VecMemory(uint64_t backing, uint64_t claimed = 0)
        : bytes(backing, fill), claimed_(claimed ? claimed : backing)
    {
    }
    uint64_t size() const override { return claimed_; }
    lib::Status write(uint64_t gpa, const void* src, size_t len) override
    {
        ++calls;
        if (refuse) return lib::err(Error::io);
        if (gpa > bytes.size() || len > bytes.size() - gpa) return lib::err(Error::out_of_range);
        if (len) memcpy(bytes.data() + gpa, src, len);
        return {};
    }
    lib::Status zero(uint64_t gpa, size_t len) override
    {
        ++calls;
        if (refuse) return lib::err(Error::io);
        if (gpa > bytes.size() || len > bytes.size() - gpa) return lib::err(Error::out_of_range);
        if (len) memset(bytes.data() + gpa, 0, len);
        return {};
    }

    uint32_t u32(uint64_t gpa) const
    {
        uint32_t v;
        memcpy(&v, bytes.data() + gpa, 4);
        return v;
    }
    uint64_t u64(uint64_t gpa) const
    {
        uint64_t v;
        memcpy(&v, bytes.data() + gpa, 8);
        return v;
    }
    std::string cstr(uint64_t gpa) const { return std::string(reinterpret_cast<const char*>(bytes.data() + gpa)); }
    bool untouched() const
    {
        for (uint8_t b : bytes)
            if (b != fill) return false;
        return calls == 0;
    }

    std::vector<uint8_t> bytes;
    unsigned calls = 0;
    bool refuse = false;

private:
    uint64_t claimed_;
};

struct Seg {
    uint64_t paddr;
    std::vector<uint8_t> data;
    uint64_t mem_size;  // 0: same as data.size()
};

void put32(std::vector<uint8_t>& v, size_t off, uint32_t x)
{
    if (v.size() < off + 4) v.resize(off + 4);
    memcpy(v.data() + off, &x, 4);
}
void put16(std::vector<uint8_t>& v, size_t off, uint16_t x)
{
    if (v.size() < off + 2) v.resize(off + 2);
    memcpy(v.data() + off, &x, 2);
}
void put64(std::vector<uint8_t>& v, size_t off, uint64_t x)
{
    if (v.size() < off + 8) v.resize(off + 8);
    memcpy(v.data() + off, &x, 8);
}

// The 12-byte Multiboot header: magic, flags (page-align, memory info),
// checksum (+ `skew` to break it).
std::vector<uint8_t> mb_header(uint32_t skew = 0, uint32_t flags = 0x3)
{
    std::vector<uint8_t> h;
    put32(h, 0, 0x1badb002);
    put32(h, 4, flags);
    put32(h, 8, uint32_t(0u - 0x1badb002u - flags) + skew);
    return h;
}

// An ELF executable: header, program headers, then each segment's bytes at
// a 16-byte aligned offset starting at `data_at` (0: right after the
// headers). The last segment's data ends the file.
std::vector<uint8_t> build_elf(bool is64, uint64_t entry, const std::vector<Seg>& segs, size_t data_at = 0)
{
    size_t eh = is64 ? 64 : 52, ph = is64 ? 56 : 32;
    std::vector<uint8_t> f(eh + ph * segs.size(), 0);
    f[0] = 0x7f, f[1] = 'E', f[2] = 'L', f[3] = 'F';
    f[4] = is64 ? 2 : 1;  // class
    f[5] = 1;             // little-endian
    f[6] = 1;             // version
    put16(f, 16, 2);      // ET_EXEC
    put16(f, 18, is64 ? 62 : 3);
    put32(f, 20, 1);
    if (is64) {
        put64(f, 24, entry);
        put64(f, 32, eh);  // phoff
        put16(f, 52, uint16_t(eh));
        put16(f, 54, uint16_t(ph));
        put16(f, 56, uint16_t(segs.size()));
    } else {
        put32(f, 24, uint32_t(entry));
        put32(f, 28, uint32_t(eh));
        put16(f, 40, uint16_t(eh));
        put16(f, 42, uint16_t(ph));
        put16(f, 44, uint16_t(segs.size()));
    }
    size_t off = data_at ? data_at : (f.size() + 15) & ~size_t(15);
    for (size_t i = 0; i < segs.size(); ++i) {
        const Seg& s = segs[i];
        uint64_t memsz = s.mem_size ? s.mem_size : s.data.size();
        size_t at = eh + i * ph;
        if (s.data.empty()) off = 0;  // like ld's bss-only segments
        if (is64) {
            put32(f, at, 1);  // PT_LOAD
            put32(f, at + 4, 7);
            put64(f, at + 8, off);
            put64(f, at + 16, s.paddr);
            put64(f, at + 24, s.paddr);
            put64(f, at + 32, s.data.size());
            put64(f, at + 40, memsz);
            put64(f, at + 48, 16);
        } else {
            put32(f, at, 1);
            put32(f, at + 4, uint32_t(off));
            put32(f, at + 8, uint32_t(s.paddr));
            put32(f, at + 12, uint32_t(s.paddr));
            put32(f, at + 16, uint32_t(s.data.size()));
            put32(f, at + 20, uint32_t(memsz));
            put32(f, at + 24, 7);
            put32(f, at + 28, 16);
        }
        if (s.data.empty()) continue;
        if (f.size() < off) f.resize(off, 0);
        f.resize(off + s.data.size());
        memcpy(f.data() + off, s.data.data(), s.data.size());
        off = (f.size() + 15) & ~size_t(15);
    }
    return f;
}

// Text: the Multiboot header, then recognisable bytes.
std::vector<uint8_t> text(size_t n, uint32_t skew = 0)
{
    std::vector<uint8_t> t = mb_header(skew);
    for (size_t i = t.size(); i < n; ++i) t.push_back(uint8_t(i * 7 + 1));
    return t;
}
std::vector<uint8_t> bytes_of(size_t n, uint8_t seed)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 13);
    return v;
}

// A typical kernel: text at 1 MiB (with the header), data and bss after it.
std::vector<uint8_t> typical(bool is64)
{
    return build_elf(is64, 0x10000c, {{0x100000, text(0x300), 0}, {0x101000, bytes_of(0x40, 3), 0x2000}});
}

struct Loaded {
    lib::Result<MultibootBoot> r;
    const char* why;
};

Loaded load(const std::vector<uint8_t>& img, VecMemory& mem, lib::StrView cmdline = "")
{
    const char* why = nullptr;
    auto r = load_multiboot(img.data(), img.size(), mem, cmdline, &why);
    return {r, why};
}

void expect_refused(const std::vector<uint8_t>& img, Error e, lib::StrView cmdline = "",
                    uint64_t ram = 4 * mib)
{
    VecMemory mem(ram);
    auto [r, why] = load(img, mem, cmdline);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), e) << lib::error_name(r.error());
    ASSERT_NE(why, nullptr);
    EXPECT_GT(strlen(why), 0u);
    EXPECT_TRUE(mem.untouched());
}

void expect_why(const std::vector<uint8_t>& img, const char* sentence, lib::StrView cmdline = "")
{
    VecMemory mem(4 * mib);
    auto [r, why] = load(img, mem, cmdline);
    ASSERT_FALSE(r.ok());
    ASSERT_NE(why, nullptr);
    EXPECT_STREQ(why, sentence);
}

// The information every load writes, for `ram` bytes and `cmdline`.
void expect_info(const VecMemory& mem, uint64_t ram, const std::string& cmdline)
{
    EXPECT_EQ(mem.u32(0x9000), 0x245u);  // mem | cmdline | mmap | loader name
    EXPECT_EQ(mem.u32(0x9000 + 4), 636u);  // 0x9F000: the domain's e820 map (e820.hpp)
    uint64_t upper = ram > (4ull << 30) ? (4ull << 30) : ram;
    EXPECT_EQ(mem.u32(0x9000 + 8), uint32_t((upper - mib) / 1024));
    EXPECT_EQ(mem.u32(0x9000 + 12), 0u);      // boot_device: not given
    EXPECT_EQ(mem.u32(0x9000 + 16), 0x9400u);  // cmdline
    EXPECT_EQ(mem.u32(0x9000 + 20), 0u);      // mods_count
    EXPECT_EQ(mem.u32(0x9000 + 24), 0u);      // mods_addr
    for (int i = 0; i < 4; ++i) EXPECT_EQ(mem.u32(0x9000 + 28 + 4 * i), 0u);  // syms
    EXPECT_EQ(mem.u32(0x9000 + 44), 72u);      // mmap_length: three entries
    EXPECT_EQ(mem.u32(0x9000 + 48), 0x9100u);  // mmap_addr
    EXPECT_EQ(mem.u32(0x9000 + 52), 0u);       // drives
    EXPECT_EQ(mem.u32(0x9000 + 56), 0u);
    EXPECT_EQ(mem.u32(0x9000 + 60), 0u);       // config_table
    EXPECT_EQ(mem.u32(0x9000 + 64), 0x9200u);  // boot_loader_name
    // The rest of the information page up to the map is zero.
    for (uint64_t a = 0x9000 + 68; a < 0x9100; ++a) ASSERT_EQ(mem.bytes[a], 0) << std::hex << a;

    struct E {
        uint32_t size;
        uint64_t base, len;
        uint32_t type;
    };
    const E want[3] = {{20, 0, 0x9f000, 1}, {20, 0x9f000, 0x61000, 2}, {20, 0x100000, ram - mib, 1}};
    for (int i = 0; i < 3; ++i) {
        uint64_t at = 0x9100 + 24 * i;
        EXPECT_EQ(mem.u32(at), want[i].size) << i;
        EXPECT_EQ(mem.u64(at + 4), want[i].base) << i;
        EXPECT_EQ(mem.u64(at + 12), want[i].len) << i;
        EXPECT_EQ(mem.u32(at + 20), want[i].type) << i;
    }
    EXPECT_EQ(mem.bytes[0x9100 + 72], 0);
    EXPECT_EQ(mem.cstr(0x9200), "hv Dom0 domain builder");
    EXPECT_EQ(mem.cstr(0x9400), cmdline);
    EXPECT_EQ(mem.bytes[0x9400 + cmdline.size()], 0);
}

}  // namespace

TEST(MultibootLoader, Elf32SegmentsBssAndBoot)
{
    auto img = typical(false);
    VecMemory mem(32 * mib);
    auto [r, why] = load(img, mem, "console=ttyS0 root=/dev/xvda1");
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    EXPECT_EQ(r->entry, 0x10000cu);
    EXPECT_EQ(r->magic, 0x2badb002u);
    EXPECT_EQ(r->info, 0x9000u);
    auto t = text(0x300);
    EXPECT_EQ(0, memcmp(mem.bytes.data() + 0x100000, t.data(), t.size()));
    EXPECT_EQ(mem.bytes[0x100000 + 0x300], fill);  // nothing past the text's memsz
    auto d = bytes_of(0x40, 3);
    EXPECT_EQ(0, memcmp(mem.bytes.data() + 0x101000, d.data(), d.size()));
    for (uint64_t a = 0x101040; a < 0x103000; ++a) ASSERT_EQ(mem.bytes[a], 0) << std::hex << a;
    EXPECT_EQ(mem.bytes[0x103000], fill);
    EXPECT_EQ(mem.bytes[0xfffff], fill);
    expect_info(mem, 32 * mib, "console=ttyS0 root=/dev/xvda1");
    // Nothing written outside the segments and the information page.
    EXPECT_EQ(mem.bytes[0x8fff], fill);
    EXPECT_EQ(mem.bytes[0xa000], fill);
    EXPECT_EQ(mem.bytes[0], fill);
}

TEST(MultibootLoader, Elf64SegmentsBssAndBoot)
{
    auto img = typical(true);
    VecMemory mem(16 * mib);
    auto [r, why] = load(img, mem, "");
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    EXPECT_EQ(r->entry, 0x10000cu);
    EXPECT_EQ(r->magic, 0x2badb002u);
    EXPECT_EQ(r->info, 0x9000u);
    auto t = text(0x300);
    EXPECT_EQ(0, memcmp(mem.bytes.data() + 0x100000, t.data(), t.size()));
    auto d = bytes_of(0x40, 3);
    EXPECT_EQ(0, memcmp(mem.bytes.data() + 0x101000, d.data(), d.size()));
    for (uint64_t a = 0x101040; a < 0x103000; ++a) ASSERT_EQ(mem.bytes[a], 0) << std::hex << a;
    expect_info(mem, 16 * mib, "");
}

TEST(MultibootLoader, BssOnlySegmentAndLowSegments)
{
    // Text below the information page, a bss-only segment above it, both
    // touching the page's edges without overlapping it.
    auto img = build_elf(false, 0x8000, {{0x8000, text(0x1000), 0}, {0xa000, {}, 0x3000}});
    VecMemory mem(2 * mib);  // the smallest RAM accepted
    auto [r, why] = load(img, mem, "x");
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    EXPECT_EQ(r->entry, 0x8000u);
    for (uint64_t a = 0xa000; a < 0xd000; ++a) ASSERT_EQ(mem.bytes[a], 0) << std::hex << a;
    EXPECT_EQ(mem.bytes[0xd000], fill);
    auto t = text(0x1000);
    EXPECT_EQ(0, memcmp(mem.bytes.data() + 0x8000, t.data(), t.size()));
    expect_info(mem, 2 * mib, "x");
}

TEST(MultibootLoader, SegmentEndingAtTheEndOfRam)
{
    auto img = build_elf(false, 0x100000, {{0x100000, text(0x100), 0x100000}});
    VecMemory mem(2 * mib);
    auto [r, why] = load(img, mem);
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    EXPECT_EQ(mem.bytes[2 * mib - 1], 0);
}

TEST(MultibootLoader, LargeRamClampsMemUpperAt4GiB)
{
    // 6 GiB claimed; the loader only writes low memory.
    VecMemory mem(4 * mib, 6ull << 30);
    auto [r, why] = load(typical(true), mem, "big");
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    expect_info(mem, 6ull << 30, "big");
    EXPECT_EQ(mem.u32(0x9008), 4193280u);  // (4 GiB - 1 MiB) / 1 KiB
}

TEST(MultibootLoader, CommandLineLimits)
{
    std::string longest(3071, 'a');
    longest[0] = 'b';
    longest[3070] = 'z';
    VecMemory mem(4 * mib);
    auto [r, why] = load(typical(false), mem, lib::StrView(longest.data(), longest.size()));
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    EXPECT_EQ(mem.cstr(0x9400), longest);
    EXPECT_EQ(mem.bytes[0x9fff], 0);  // its NUL is the page's last byte

    std::string too_long(3072, 'a');
    expect_refused(typical(false), Error::out_of_range, lib::StrView(too_long.data(), too_long.size()));
    expect_why(typical(false), "command line longer than 3 KiB", lib::StrView(too_long.data(), too_long.size()));
    std::string far_too_long(100000, 'a');
    expect_refused(typical(false), Error::out_of_range, lib::StrView(far_too_long.data(), far_too_long.size()));
}

TEST(MultibootLoader, CommandLineIsTerminatedOverOldBytes)
{
    // A second load with a shorter command line into the same RAM: the old
    // tail must not show through.
    VecMemory mem(4 * mib);
    ASSERT_TRUE(load(typical(false), mem, "a much longer first command line").r.ok());
    ASSERT_TRUE(load(typical(false), mem, "short").r.ok());
    EXPECT_EQ(mem.cstr(0x9400), "short");
}

TEST(MultibootLoader, HeaderSearch)
{
    // The header 4-byte aligned anywhere in the first 8 KiB is found, also
    // when it is not inside a segment.
    {
        auto img = build_elf(false, 0x100000, {{0x100000, bytes_of(0x40, 1), 0}}, 0x400);
        auto h = mb_header();
        img.resize(8180 + 12 + 4, 0);
        memcpy(img.data() + 8180, h.data(), 12);  // its last byte is byte 8191
        VecMemory mem(4 * mib);
        auto [r, why] = load(img, mem);
        EXPECT_TRUE(r.ok()) << (why ? why : "");
    }
    // Not at an aligned offset: not a header.
    {
        auto img = build_elf(false, 0x100000, {{0x100000, bytes_of(0x40, 1), 0}}, 0x400);
        auto h = mb_header();
        img.resize(0x1000, 0);
        memcpy(img.data() + 0x802, h.data(), 12);
        expect_refused(img, Error::invalid);
        expect_why(img, "no Multiboot header in the first 8 KiB");
    }
    // At 8 KiB, and straddling it (the specification wants the whole header
    // within the first 8192 bytes, as GRUB checks).
    for (size_t at : {size_t(8192), size_t(8188), size_t(8184)}) {
        auto img = build_elf(false, 0x100000, {{0x100000, bytes_of(0x40, 1), 0}}, 0x400);
        auto h = mb_header();
        img.resize(at + 12 + 16, 0);
        memcpy(img.data() + at, h.data(), 12);
        SCOPED_TRACE(at);
        expect_refused(img, Error::invalid);
        expect_why(img, "no Multiboot header in the first 8 KiB");
    }
    // A kernel whose text (with the header) starts at 8 KiB in the file.
    auto late = build_elf(false, 0x100000, {{0x100000, text(0x100), 0}}, 0x2000);
    expect_refused(late, Error::invalid);
}

TEST(MultibootLoader, NoHeader)
{
    auto img = build_elf(false, 0x100000, {{0x100000, bytes_of(0x200, 9), 0}});
    expect_refused(img, Error::invalid);
    expect_why(img, "no Multiboot header in the first 8 KiB");
    expect_refused({}, Error::invalid);
    expect_refused(std::vector<uint8_t>(11, 0), Error::invalid);
}

TEST(MultibootLoader, BadChecksum)
{
    for (uint32_t skew : {1u, 0x80000000u, 0xffffffffu}) {
        auto img = build_elf(false, 0x100000, {{0x100000, text(0x100, skew), 0}});
        expect_refused(img, Error::invalid);
        expect_why(img, "the Multiboot header's checksum is wrong");
    }
}

// Bits 0-15 of the header's flags are requirements the loader must meet or
// refuse (video mode, bit 2, and the reserved ones); bit 16 and up are
// optional (the a.out kludge, bit 16, is ignored for an ELF).
TEST(MultibootLoader, RequiredFeatureFlags)
{
    for (uint32_t flags : {0x4u, 0x8u, 0x8000u, 0x7u}) {
        std::vector<uint8_t> t = mb_header(0, flags);
        for (size_t i = t.size(); i < 0x100; ++i) t.push_back(uint8_t(i));
        auto img = build_elf(false, 0x100000, {{0x100000, t, 0}});
        expect_refused(img, Error::unsupported);
        expect_why(img, "the kernel requires Multiboot features this loader lacks (a video mode)");
    }
    for (uint32_t flags : {0x0u, 0x1u, 0x2u, 0x10003u}) {
        std::vector<uint8_t> t = mb_header(0, flags);
        for (size_t i = t.size(); i < 0x100; ++i) t.push_back(uint8_t(i));
        VecMemory mem(16 << 20);
        auto img = build_elf(false, 0x100000, {{0x100000, t, 0}});
        const char* why = "";
        EXPECT_TRUE(vmm::builder::load_multiboot(img.data(), img.size(), mem, "", &why).ok()) << flags << why;
    }
}

TEST(MultibootLoader, NotAnElf)
{
    // A flat binary with a good Multiboot header (an a.out-kludge kernel).
    auto flat = text(0x400);
    expect_refused(flat, Error::invalid);
    expect_why(flat, "not an ELF executable (a.out kludge kernels are not supported)");
    // ELF magic with an unknown class.
    auto img = typical(false);
    img[4] = 3;
    expect_refused(img, Error::invalid);
    // An ARM ELF.
    img = typical(false);
    put16(img, 18, 40);
    expect_refused(img, Error::invalid);
}

TEST(MultibootLoader, SegmentBeyondRam)
{
    // One byte past the end of RAM.
    auto img = build_elf(false, 0x100000, {{0x100000, text(0x100), 0x300001}});
    expect_refused(img, Error::out_of_range);
    expect_why(img, "a segment lies outside the domain's RAM");
    // A good segment first: nothing is written before the bad one is seen.
    img = build_elf(false, 0x100000, {{0x100000, text(0x100), 0}, {0x400000, bytes_of(0x10, 1), 0}});
    expect_refused(img, Error::out_of_range);
    // Far above, in ELF64.
    img = build_elf(true, 0x100000, {{0x100000, text(0x100), 0}, {0x7fff00000000ull, bytes_of(0x10, 1), 0}});
    expect_refused(img, Error::out_of_range);
}

TEST(MultibootLoader, SegmentOverlappingTheInformationPage)
{
    struct Case {
        uint64_t paddr, memsz;
    };
    for (Case c : {Case{0x8000, 0x1001}, Case{0x9fff, 1}, Case{0x9000, 0x1000}, Case{0x0, 0x100000},
                   Case{0x9800, 0x10}}) {
        SCOPED_TRACE(c.paddr);
        auto img = build_elf(false, 0x100000, {{0x100000, text(0x100), 0}, {c.paddr, {}, c.memsz}});
        expect_refused(img, Error::out_of_range);
        expect_why(img, "a segment overlaps the Multiboot information at 0x9000");
    }
}

TEST(MultibootLoader, EntryAbove4GiB)
{
    auto img = build_elf(true, 0x100000000ull, {{0x100000, text(0x100), 0}});
    expect_refused(img, Error::out_of_range);
    expect_why(img, "the entry point is above 4 GiB");
    img = build_elf(true, 0xffffffffull, {{0x100000, text(0x100), 0}});
    VecMemory mem(4 * mib);
    auto [r, why] = load(img, mem);
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    EXPECT_EQ(r->entry, 0xffffffffu);
}

TEST(MultibootLoader, RamBelow2MiB)
{
    auto img = typical(false);
    expect_refused(img, Error::out_of_range, "", 2 * mib - 4096);
    VecMemory mem(mib);
    auto [r, why] = load(img, mem);
    ASSERT_FALSE(r.ok());
    EXPECT_STREQ(why, "less than 2 MiB of RAM");
    EXPECT_TRUE(mem.untouched());
}

TEST(MultibootLoader, TruncatedElf)
{
    // Program headers past the end of the file.
    auto img = typical(false);
    put16(img, 44, 200);
    expect_refused(img, Error::truncated);
    // Segment data past the end of the file.
    img = typical(true);
    put64(img, 64 + 32, 0x10000);  // first segment's p_filesz
    put64(img, 64 + 40, 0x10000);
    expect_refused(img, Error::truncated);
    // phoff past the end.
    img = typical(false);
    put32(img, 28, 0x100000);
    expect_refused(img, Error::truncated);
}

TEST(MultibootLoader, EveryTruncationFails)
{
    for (bool is64 : {false, true}) {
        auto img = build_elf(is64, 0x100000, {{0x100000, text(0x40), 0}, {0x101000, bytes_of(0x20, 5), 0x100}});
        for (size_t n = 0; n < img.size(); ++n) {
            // Exactly n bytes on the heap: ASan flags any read past them.
            std::unique_ptr<uint8_t[]> copy(new uint8_t[n ? n : 1]);
            if (n) memcpy(copy.get(), img.data(), n);
            VecMemory mem(4 * mib);
            const char* why = nullptr;
            auto r = load_multiboot(copy.get(), n, mem, "truncated", &why);
            ASSERT_FALSE(r.ok()) << "is64 " << is64 << " length " << n;
            ASSERT_NE(why, nullptr);
            ASSERT_GT(strlen(why), 0u);
            ASSERT_TRUE(mem.untouched()) << n;
        }
        VecMemory mem(4 * mib);
        EXPECT_TRUE(load(img, mem).r.ok());
    }
}

TEST(MultibootLoader, NullWhyIsAllowed)
{
    VecMemory mem(4 * mib);
    auto r = load_multiboot(nullptr, 0, mem, "", nullptr);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::invalid);
}

TEST(MultibootLoader, GuestMemoryRefusingWrites)
{
    // The window onto the domain's RAM fails: the error comes back with a
    // sentence, like every other.
    VecMemory mem(4 * mib);
    mem.refuse = true;
    const char* why = nullptr;
    auto img = typical(false);
    auto r = load_multiboot(img.data(), img.size(), mem, "", &why);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::io);
    ASSERT_NE(why, nullptr);
    EXPECT_GT(strlen(why), 0u);
}

// Modules (QEMU's -initrd "a args,b"): at the top of RAM, page-aligned, in
// order; the list at 0xA000, the strings at 0x30000; flag bit 3.
TEST(MultibootLoader, Modules)
{
    auto img = typical(false);
    VecMemory mem(16 * mib);
    auto a = bytes_of(5000, 1), b = bytes_of(0x1000, 2);
    vmm::builder::Module mods[] = {{a.data(), a.size(), "a args"}, {b.data(), b.size(), ""}};
    const char* why = nullptr;
    auto r = load_multiboot(img.data(), img.size(), mem, "k", mods, 2, &why);
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(mem.u32(0x9000), 0x24du);  // mem | cmdline | mods | mmap | loader name
    EXPECT_EQ(mem.u32(0x9000 + 20), 2u);
    EXPECT_EQ(mem.u32(0x9000 + 24), 0xa000u);
    uint32_t top = 16 * mib;
    EXPECT_EQ(mem.u32(0xa000), top - 0x3000);
    EXPECT_EQ(mem.u32(0xa004), top - 0x3000 + 5000);
    EXPECT_EQ(mem.u32(0xa008), 0x30000u);
    EXPECT_EQ(mem.u32(0xa00c), 0u);
    EXPECT_EQ(mem.u32(0xa010), top - 0x1000);
    EXPECT_EQ(mem.u32(0xa014), top);
    EXPECT_EQ(mem.u32(0xa018), 0x30007u);
    EXPECT_EQ(mem.bytes[0xa020], fill);
    EXPECT_EQ(mem.cstr(0x30000), "a args");
    EXPECT_EQ(mem.cstr(0x30007), "");
    EXPECT_EQ(0, memcmp(mem.bytes.data() + top - 0x3000, a.data(), a.size()));
    EXPECT_EQ(0, memcmp(mem.bytes.data() + top - 0x1000, b.data(), b.size()));
    EXPECT_EQ(mem.cstr(0x9400), "k");
}

TEST(MultibootLoader, ModuleErrors)
{
    auto img = typical(false);
    auto d = bytes_of(64, 1);
    auto refused = [&](const vmm::builder::Module* m, size_t n, const std::vector<uint8_t>& kernel, const char* words) {
        VecMemory mem(4 * mib);
        const char* why = nullptr;
        auto r = load_multiboot(kernel.data(), kernel.size(), mem, "", m, n, &why);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error(), Error::out_of_range);
        ASSERT_NE(why, nullptr);
        EXPECT_NE(std::string(why).find(words), std::string::npos) << why;
        EXPECT_TRUE(mem.untouched());
    };
    std::vector<vmm::builder::Module> many(33, vmm::builder::Module{d.data(), d.size(), "x"});
    refused(many.data(), 33, img, "more than 32");
    std::vector<uint8_t> big(3 * mib, 0);
    vmm::builder::Module one{big.data(), big.size(), ""};
    refused(&one, 1, img, "do not fit");
    // With modules, their list at 0xA000 and strings at 0x30000 are taken.
    auto low = build_elf(false, 0x100000, {{0x100000, text(0x100), 0}, {0xa000, {}, 0x10}});
    refused(many.data(), 1, low, "module list");
    low = build_elf(false, 0x100000, {{0x100000, text(0x100), 0}, {0x30001, {}, 0x10}});
    refused(many.data(), 1, low, "module list");
    // The BIOS area, with or without modules.
    auto bios = build_elf(false, 0x100000, {{0x100000, text(0x100), 0}, {0xe0000, {}, 0x10}});
    refused(nullptr, 0, bios, "BIOS");
}

#ifdef HV_TEST_GUESTS_DIR
namespace {

std::vector<uint8_t> read_file(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) return {};
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}


uint32_t le32(const std::vector<uint8_t>& f, size_t off)
{
    uint32_t v;
    memcpy(&v, f.data() + off, 4);
    return v;
}
uint64_t le64(const std::vector<uint8_t>& f, size_t off)
{
    uint64_t v;
    memcpy(&v, f.data() + off, 8);
    return v;
}

// Loads a test guest and checks every PT_LOAD segment against the file.
void load_guest(const std::string& name)
{
    std::string path = std::string(HV_TEST_GUESTS_DIR) + "/" + name;
    auto f = read_file(path);
    if (f.empty()) GTEST_SKIP() << path << " is not built";
    ASSERT_GE(f.size(), 64u);
    bool is64 = f[4] == 2;
    VecMemory mem(16 * mib);
    auto [r, why] = load(f, mem, "cpuid_test verbose");
    ASSERT_TRUE(r.ok()) << (why ? why : "");
    uint64_t entry = is64 ? le64(f, 24) : le32(f, 24);
    EXPECT_EQ(r->entry, entry);
    EXPECT_EQ(r->magic, 0x2badb002u);
    EXPECT_EQ(r->info, 0x9000u);
    uint64_t phoff = is64 ? le64(f, 32) : le32(f, 28);
    uint16_t phnum;
    memcpy(&phnum, f.data() + (is64 ? 56 : 44), 2);
    int loads = 0;
    for (unsigned i = 0; i < phnum; ++i) {
        size_t at = phoff + i * (is64 ? 56 : 32);
        if (le32(f, at) != 1) continue;
        ++loads;
        uint64_t off = is64 ? le64(f, at + 8) : le32(f, at + 4);
        uint64_t paddr = is64 ? le64(f, at + 24) : le32(f, at + 12);
        uint64_t filesz = is64 ? le64(f, at + 32) : le32(f, at + 16);
        uint64_t memsz = is64 ? le64(f, at + 40) : le32(f, at + 20);
        ASSERT_LE(paddr + memsz, mem.bytes.size());
        EXPECT_EQ(0, memcmp(mem.bytes.data() + paddr, f.data() + off, filesz)) << "segment " << i;
        for (uint64_t a = paddr + filesz; a < paddr + memsz; ++a) ASSERT_EQ(mem.bytes[a], 0) << std::hex << a;
    }
    EXPECT_GE(loads, 1);
    expect_info(mem, 16 * mib, "cpuid_test verbose");
}

}  // namespace

TEST(MultibootLoader, RealGuestElf32) { load_guest("cpuid_test.elf32"); }
TEST(MultibootLoader, RealGuestElf64) { load_guest("cpuid_test.elf"); }
#endif
