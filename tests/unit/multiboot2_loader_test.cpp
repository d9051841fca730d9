// Multiboot2 loader (vmm/builder/multiboot2_loader): ELF kernels and
// address-tag (flat) kernels built in the test; the boot information at
// 0x9000 is walked tag by tag and every field checked (basic memory, memory
// map, command line, loader name, modules, the RSDP copies). Bad inputs: no
// header, bad checksum, another architecture, header or tags running past
// their ends, no end tag, required information or tags this loader cannot
// give, address tags that do not match the file, segments over the
// information, information too large, unreadable or bad RSDP. A refused
// load writes nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loader_test_util.hpp"
#include "vmm/builder/multiboot2_loader.hpp"

using lib::Error;
using namespace loader_test;
using vmm::builder::FlatBoot;
using vmm::builder::KernelArgs;
using vmm::builder::Module;

namespace {

struct Tag {
    uint16_t type, flags;
    std::vector<uint8_t> body;
};

std::vector<uint8_t> u32s(std::initializer_list<uint32_t> v)
{
    std::vector<uint8_t> b;
    for (uint32_t x : v) put32(b, b.size(), x);
    return b;
}

std::vector<uint8_t> mb2_header(const std::vector<Tag>& tags, uint32_t arch = 0, uint32_t skew = 0, bool end = true)
{
    std::vector<uint8_t> h(16, 0);
    auto add = [&](uint16_t type, uint16_t flags, const std::vector<uint8_t>& body) {
        size_t at = h.size();
        put16(h, at, type);
        put16(h, at + 2, flags);
        put32(h, at + 4, uint32_t(8 + body.size()));
        h.insert(h.end(), body.begin(), body.end());
        while (h.size() % 8) h.push_back(0);
    };
    for (const Tag& t : tags) add(t.type, t.flags, t.body);
    if (end) add(0, 0, {});
    put32(h, 0, 0xe85250d6);
    put32(h, 4, arch);
    put32(h, 8, uint32_t(h.size()));
    put32(h, 12, uint32_t(0u - 0xe85250d6u - arch - uint32_t(h.size())) + skew);
    return h;
}

const std::vector<Tag> usual_tags = {
    {1, 0, u32s({1, 2, 3, 4, 6})},  // required information
    {6, 0, {}},                     // module alignment
    {5, 1, u32s({1024, 768, 32})},  // an optional framebuffer: ignored
    {4, 0, u32s({0})},              // console flags
};

std::vector<uint8_t> elf_kernel(const std::vector<uint8_t>& header, bool is64 = false, uint64_t entry = 0x100000)
{
    auto text = header;
    auto tail = bytes_of(0x200, 11);
    text.insert(text.end(), tail.begin(), tail.end());
    ElfSpec s;
    s.is64 = is64;
    s.entry = entry;
    s.segs = {{0x100000, text}, {0x102000, bytes_of(0x40, 3), 0x2000}};
    return build_elf(s);
}

// A flat kernel loaded by its address tag: `pad` bytes of file before the
// header (loaded too), the header, code; the bss after.
std::vector<uint8_t> flat_kernel(size_t pad, uint32_t load_end_delta = 0, uint32_t bss = 0x1000, bool entry = true,
                                 std::vector<Tag> extra = {})
{
    uint32_t header_addr = 0x200000 + uint32_t(pad), load_addr = 0x200000;
    auto build = [&](uint32_t file_size) {
        std::vector<Tag> tags = extra;
        uint32_t load_end = load_end_delta ? load_addr + load_end_delta : 0;
        tags.push_back({2, 0, u32s({header_addr, load_addr, load_end, bss ? load_addr + file_size + bss : 0})});
        if (entry) tags.push_back({3, 0, u32s({0x200000 + uint32_t(pad) + 0x100})});
        auto f = bytes_of(pad, 0x41);
        auto h = mb2_header(tags);
        f.insert(f.end(), h.begin(), h.end());
        auto code = bytes_of(0x300, 0x17);
        f.insert(f.end(), code.begin(), code.end());
        return f;
    };
    return build(uint32_t(build(0).size()));
}

struct Loaded {
    lib::Result<FlatBoot> r;
    const char* why;
};

Loaded load(const std::vector<uint8_t>& img, VecMemory& mem, const KernelArgs& args = {})
{
    const char* why = nullptr;
    auto r = vmm::builder::load_multiboot2(img.data(), img.size(), mem, args, &why);
    return {std::move(r), why};
}

void expect_refused(const std::vector<uint8_t>& img, Error e, const char* words = nullptr, const KernelArgs& args = {})
{
    VecMemory mem(8 * mib);
    auto [r, why] = load(img, mem, args);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), e) << (why ? why : "");
    ASSERT_NE(why, nullptr);
    if (words) {
        EXPECT_NE(std::string(why).find(words), std::string::npos) << why;
    }
    EXPECT_TRUE(mem.untouched());
}

// The information's tags: type -> offsets (modules repeat).
std::multimap<uint32_t, uint64_t> walk(const VecMemory& mem)
{
    std::multimap<uint32_t, uint64_t> tags;
    uint32_t total = mem.u32(0x9000);
    EXPECT_EQ(mem.u32(0x9004), 0u);
    uint64_t at = 0x9008, end = 0x9000 + total;
    while (at + 8 <= end) {
        EXPECT_EQ(at % 8, 0u);
        uint32_t type = mem.u32(at), size = mem.u32(at + 4);
        tags.emplace(type, at);
        if (type == 0) {
            EXPECT_EQ(size, 8u);
            EXPECT_EQ(at + 8, end);
            break;
        }
        at += (size + 7) & ~7u;
    }
    EXPECT_EQ(tags.count(0), 1u);
    return tags;
}

std::vector<uint8_t> rsdp_bytes(uint8_t revision)
{
    std::vector<uint8_t> r(36, 0);
    memcpy(r.data(), "RSD PTR ", 8);
    memcpy(r.data() + 9, "HVOEM ", 6);
    r[15] = revision;
    put32(r, 16, 0xe0100);
    put32(r, 20, 36);
    put64(r, 24, 0xe0200);
    return r;
}

}  // namespace

TEST(Multiboot2Loader, ElfKernelEveryInformationTag)
{
    auto img = elf_kernel(mb2_header(usual_tags));
    VecMemory mem(32 * mib);
    auto rsdp = rsdp_bytes(2);
    memcpy(mem.bytes.data() + 0xe0000, rsdp.data(), rsdp.size());  // as the ACPI builder would
    auto a = bytes_of(5000, 1), b = bytes_of(0x1000, 2);
    Module mods[] = {{a.data(), a.size(), "a args"}, {b.data(), b.size(), ""}};
    auto [r, why] = load(img, mem, {"console=ttyS0 x", mods, 2, 0xe0000});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(r->entry, 0x100000u);
    EXPECT_EQ(r->eax, 0x36d76289u);
    EXPECT_EQ(r->ebx, 0x9000u);
    EXPECT_EQ(r->esi, 0u);
    EXPECT_TRUE(mem.same(0x102000, bytes_of(0x40, 3)));
    EXPECT_TRUE(mem.all(0x102040, 0x104000, 0));
    auto tags = walk(mem);
    ASSERT_EQ(tags.count(1), 1u);
    uint64_t t = tags.find(1)->second;
    EXPECT_EQ(mem.u32(t + 4), 8u + 16);
    EXPECT_EQ(mem.cstr(t + 8), "console=ttyS0 x");
    t = tags.find(2)->second;
    EXPECT_EQ(mem.cstr(t + 8), "hv Dom0 domain builder");
    EXPECT_EQ(mem.u32(t + 4), 8u + 23);
    t = tags.find(4)->second;
    EXPECT_EQ(mem.u32(t + 4), 16u);
    EXPECT_EQ(mem.u32(t + 8), 636u);
    EXPECT_EQ(mem.u32(t + 12), 31u * 1024);
    t = tags.find(6)->second;
    EXPECT_EQ(mem.u32(t + 4), 16u + 3 * 24);
    EXPECT_EQ(mem.u32(t + 8), 24u);  // entry_size
    EXPECT_EQ(mem.u32(t + 12), 0u);  // entry_version
    const uint64_t want[3][3] = {{0, 0x9f000, 1}, {0x9f000, 0x61000, 2}, {0x100000, 31 * mib, 1}};
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(mem.u64(t + 16 + 24 * i), want[i][0]);
        EXPECT_EQ(mem.u64(t + 24 + 24 * i), want[i][1]);
        EXPECT_EQ(mem.u32(t + 32 + 24 * i), want[i][2]);
        EXPECT_EQ(mem.u32(t + 36 + 24 * i), 0u);
    }
    ASSERT_EQ(tags.count(3), 2u);
    auto m = tags.equal_range(3).first;
    uint64_t m0 = m->second, m1 = std::next(m)->second;
    uint32_t top = 32 * mib;
    EXPECT_EQ(mem.u32(m0 + 8), top - 0x3000);
    EXPECT_EQ(mem.u32(m0 + 12), top - 0x3000 + 5000);
    EXPECT_EQ(mem.cstr(m0 + 16), "a args");
    EXPECT_EQ(mem.u32(m0 + 4), 16u + 7);
    EXPECT_EQ(mem.u32(m1 + 8), top - 0x1000);
    EXPECT_EQ(mem.u32(m1 + 12), top);
    EXPECT_EQ(mem.cstr(m1 + 16), "");
    EXPECT_TRUE(mem.same(top - 0x3000, a));
    EXPECT_TRUE(mem.same(top - 0x1000, b));
    t = tags.find(14)->second;
    EXPECT_EQ(mem.u32(t + 4), 8u + 20);
    EXPECT_TRUE(mem.same(t + 8, std::vector<uint8_t>(rsdp.begin(), rsdp.begin() + 20)));
    t = tags.find(15)->second;
    EXPECT_EQ(mem.u32(t + 4), 8u + 36);
    EXPECT_TRUE(mem.same(t + 8, rsdp));
    EXPECT_EQ(tags.size(), 9u);
    // Past the information: untouched.
    EXPECT_EQ(mem.u8(0x9000 + mem.u32(0x9000)), fill);
    EXPECT_EQ(mem.u8(0x8fff), fill);
}

TEST(Multiboot2Loader, RsdpRevisionZeroGivesTheOldTagOnly)
{
    auto img = elf_kernel(mb2_header({{1, 0, u32s({14})}}), true);
    VecMemory mem(8 * mib);
    auto rsdp = rsdp_bytes(0);
    memcpy(mem.bytes.data() + 0xe0000, rsdp.data(), rsdp.size());
    auto [r, why] = load(img, mem, {"", nullptr, 0, 0xe0000});
    ASSERT_TRUE(r.ok()) << why;
    auto tags = walk(mem);
    EXPECT_EQ(tags.count(14), 1u);
    EXPECT_EQ(tags.count(15), 0u);
    EXPECT_EQ(tags.count(3), 0u);
    // Requiring the new one then fails; optionally asking for it does not.
    expect_refused(elf_kernel(mb2_header({{1, 0, u32s({15})}})), Error::unsupported, "requires Multiboot2 information");
    VecMemory mem2(8 * mib);
    memcpy(mem2.bytes.data() + 0xe0000, rsdp.data(), rsdp.size());
    EXPECT_TRUE(load(elf_kernel(mb2_header({{1, 1, u32s({15, 8})}})), mem2, {"", nullptr, 0, 0xe0000}).r.ok());
}

TEST(Multiboot2Loader, BadRsdp)
{
    auto img = elf_kernel(mb2_header({}));
    {
        VecMemory mem(8 * mib);  // no signature at 0xE0000
        auto [r, why] = load(img, mem, {"", nullptr, 0, 0xe0000});
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error(), Error::invalid);
        EXPECT_TRUE(mem.all(0, 8 * mib, fill));
    }
    {
        VecMemory mem(8 * mib);
        mem.readable = false;
        auto [r, why] = load(img, mem, {"", nullptr, 0, 0xe0000});
        ASSERT_FALSE(r.ok());
        EXPECT_NE(std::string(why).find("RSDP"), std::string::npos);
    }
    {
        VecMemory mem(8 * mib);  // revision 2 announced, the 36 bytes run past RAM
        auto rsdp = rsdp_bytes(2);
        memcpy(mem.bytes.data() + 8 * mib - 20, rsdp.data(), 20);
        auto [r, why] = load(img, mem, {"", nullptr, 0, 8 * mib - 20});
        ASSERT_FALSE(r.ok());
    }
}

TEST(Multiboot2Loader, AddressTagKernels)
{
    for (size_t pad : {size_t(0), size_t(0x40)}) {
        SCOPED_TRACE(pad);
        auto img = flat_kernel(pad);
        VecMemory mem(8 * mib);
        auto [r, why] = load(img, mem, {"flat"});
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->entry, 0x200000u + pad + 0x100);
        EXPECT_TRUE(mem.same(0x200000, img));
        EXPECT_TRUE(mem.all(0x200000 + img.size(), 0x200000 + img.size() + 0x1000, 0));
        EXPECT_EQ(mem.u8(0x200000 + img.size() + 0x1000), fill);
    }
    // load_end_addr: only part of the file; no bss.
    auto img = flat_kernel(0, 0x80, 0);
    VecMemory mem(8 * mib);
    auto [r, why] = load(img, mem);
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_TRUE(mem.same(0x200000, std::vector<uint8_t>(img.begin(), img.begin() + 0x80)));
    EXPECT_EQ(mem.u8(0x200080), fill);
}

TEST(Multiboot2Loader, BadAddressTags)
{
    expect_refused(flat_kernel(0, 0, 0x1000, false), Error::invalid, "no entry address tag");
    expect_refused(flat_kernel(0, 0x100000), Error::invalid, "address tag does not match");  // load_end past the file
    // header_addr - load_addr larger than the header's offset.
    auto h = mb2_header({{2, 0, u32s({0x200100, 0x200000, 0, 0})}, {3, 0, u32s({0x200100})}});
    expect_refused(h, Error::invalid, "address tag does not match");
    // load_addr above header_addr.
    h = mb2_header({{2, 0, u32s({0x200000, 0x200010, 0, 0})}, {3, 0, u32s({0x200100})}});
    expect_refused(h, Error::invalid, "address tag does not match");
    // bss_end below the loaded end.
    h = mb2_header({{2, 0, u32s({0x200000, 0x200000, 0, 0x200001})}, {3, 0, u32s({0x200000})}});
    expect_refused(h, Error::invalid, "address tag does not match");
    // Short tags.
    expect_refused(mb2_header({{2, 0, u32s({0x200000, 0x200000})}}), Error::invalid, "too short");
    expect_refused(mb2_header({{3, 0, {}}}), Error::invalid, "too short");
    // Loaded over the information, or outside RAM, or over the BIOS area.
    h = mb2_header({{2, 0, u32s({0x9000, 0x9000, 0, 0})}, {3, 0, u32s({0x9000})}});
    expect_refused(h, Error::out_of_range, "Multiboot2 information");
    h = mb2_header({{2, 0, u32s({0x7ff000, 0x7ff000, 0, 0x900000})}, {3, 0, u32s({0x7ff000})}});
    expect_refused(h, Error::out_of_range, "outside");
    h = mb2_header({{2, 0, u32s({0xe0000, 0xe0000, 0, 0})}, {3, 0, u32s({0xe0000})}});
    expect_refused(h, Error::out_of_range, "BIOS");
}

TEST(Multiboot2Loader, BadHeaders)
{
    auto good = mb2_header(usual_tags);
    expect_refused(elf_kernel(mb2_header(usual_tags, 0, 1)), Error::invalid, "checksum");
    expect_refused(elf_kernel(mb2_header(usual_tags, 4)), Error::unsupported, "i386");
    expect_refused(elf_kernel(mb2_header(usual_tags, 0, 0, false)), Error::invalid, "end tag");
    // No header: none, at a 4-but-not-8 aligned offset, past 32 KiB.
    expect_refused(build_elf({.segs = {{0x100000, bytes_of(0x100, 1)}}}), Error::invalid, "no Multiboot2 header");
    {
        std::vector<uint8_t> f(0x1000, 0);
        memcpy(f.data() + 0x804, good.data(), good.size());
        expect_refused(f, Error::invalid, "no Multiboot2 header");
        std::vector<uint8_t> late(0x9000, 0);
        memcpy(late.data() + 0x8000, good.data(), good.size());
        expect_refused(late, Error::invalid, "no Multiboot2 header");
        // Straddling 32 KiB.
        std::vector<uint8_t> straddle(0x9000, 0);
        memcpy(straddle.data() + 0x8000 - 16, good.data(), good.size());
        expect_refused(straddle, Error::invalid, "32 KiB");
    }
    // header_length past the file.
    auto cut = std::vector<uint8_t>(good.begin(), good.end() - 8);
    expect_refused(cut, Error::invalid, "length");
    // A tag whose size runs past the header, or is below 8.
    auto bad = good;
    put32(bad, 16 + 4, 0x1000);
    expect_refused(elf_kernel(bad), Error::invalid);  // the checksum still holds: size is not in it
    bad = good;
    put32(bad, 16 + 4, 4);
    expect_refused(elf_kernel(bad), Error::invalid, "runs past");
    // Information or tags this loader cannot give.
    expect_refused(elf_kernel(mb2_header({{1, 0, u32s({1, 8})}})), Error::unsupported, "requires");
    expect_refused(elf_kernel(mb2_header({{99, 0, {}}})), Error::unsupported, "does not know");
    VecMemory mem(8 * mib);
    EXPECT_TRUE(load(elf_kernel(mb2_header({{99, 1, {}}, {1, 1, u32s({5, 7, 8, 9})}, {7, 0, {}}, {10, 0, u32s({0, 0, 0, 0})}})),
                     mem)
                    .r.ok());
    // Not an ELF and no address tag.
    expect_refused(good, Error::invalid, "not an ELF");
}

TEST(Multiboot2Loader, EntryTagOverridesElfEntry)
{
    auto img = elf_kernel(mb2_header({{3, 0, u32s({0x100010})}}), true, 0x100000);
    VecMemory mem(8 * mib);
    auto [r, why] = load(img, mem);
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(r->entry, 0x100010u);
    expect_refused(elf_kernel(mb2_header({{3, 0, u32s({0x900000})}})), Error::out_of_range, "entry point");
}

TEST(Multiboot2Loader, Limits)
{
    auto img = elf_kernel(mb2_header({}));
    // The information would pass 0x20000: a long kernel command line and
    // long module command lines together.
    std::string line(65000, 'k'), arg(1000, 'm');
    auto d = bytes_of(16, 1);
    std::vector<Module> mods(32, Module{d.data(), d.size(), lib::StrView(arg.data(), arg.size())});
    expect_refused(img, Error::out_of_range, "0x9000-0x1FFFF", {lib::StrView(line.data(), line.size()), mods.data(), 32});
    // Each alone fits.
    {
        VecMemory mem(8 * mib);
        auto [r, why] = load(img, mem, {lib::StrView(line.data(), line.size())});
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(mem.cstr(walk(mem).find(1)->second + 8), line);
    }
    {
        VecMemory mem(8 * mib);
        auto [r, why] = load(img, mem, {"", mods.data(), 32});
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(walk(mem).count(3), 32u);
    }
    std::vector<Module> many(33, Module{d.data(), d.size(), ""});
    expect_refused(img, Error::out_of_range, "more than 32", {"", many.data(), 33});
    std::vector<uint8_t> big(8 * mib, 0);
    Module one{big.data(), big.size(), ""};
    expect_refused(img, Error::out_of_range, "do not fit", {"", &one, 1});
    std::string huge(0x10000, 'h');
    expect_refused(img, Error::out_of_range, "64 KiB", {lib::StrView(huge.data(), huge.size())});
    // An ELF segment over the information.
    ElfSpec s;
    auto text = mb2_header({});
    s.segs = {{0x100000, text}, {0x9000 + 0x50, {}, 0x10}};
    expect_refused(build_elf(s), Error::out_of_range, "Multiboot2 information");
    s.segs = {{0x100000, text}, {0x9000 + 0x100, {}, 0x10}};  // past the (small) information: fine
    VecMemory mem(8 * mib);
    auto [r, why] = load(build_elf(s), mem);
    EXPECT_TRUE(r.ok()) << why;
}

TEST(Multiboot2Loader, EveryTruncationFails)
{
    auto img = elf_kernel(mb2_header(usual_tags));
    for (size_t n = 0; n < img.size(); ++n) {
        std::unique_ptr<uint8_t[]> copy(new uint8_t[n ? n : 1]);
        if (n) memcpy(copy.get(), img.data(), n);
        VecMemory mem(64 * 1024);  // refused before RAM matters
        const char* why = nullptr;
        auto r = vmm::builder::load_multiboot2(n ? copy.get() : nullptr, n, mem, {}, &why);
        ASSERT_FALSE(r.ok()) << n;
        ASSERT_NE(why, nullptr);
        ASSERT_TRUE(mem.untouched()) << n;
    }
}

TEST(Multiboot2Loader, RefusedWrites)
{
    VecMemory mem(8 * mib);
    mem.refuse = true;
    auto [r, why] = load(elf_kernel(mb2_header({})), mem);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::io);
    EXPECT_STREQ(why, "cannot write to the domain's RAM");
}
