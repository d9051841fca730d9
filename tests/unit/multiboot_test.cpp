// Multiboot1 and Multiboot2 info parsing against info blocks built in fake
// physical memory, shaped like what GRUB (BIOS and EFI) and QEMU -kernel
// hand over, plus malformed variants.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hv/boot/efi_memory.hpp"
#include "hv/boot/multiboot.hpp"
#include "hv/boot/multiboot1_abi.hpp"
#include "hv/boot/multiboot2_abi.hpp"
#include "tests/unit/fake_phys.hpp"
#include "tests/unit/host_log.hpp"

using hv::boot::BootInfo;
using hv::boot::MemType;
using lib::Error;
namespace mb1 = hv::boot::mb1;
namespace mb2 = hv::boot::mb2;

namespace {

class MultibootTest : public ::testing::Test {
protected:
    void SetUp() override { test::log_clear(); }
    test::FakePhys mem;
    BootInfo bi;
};

// ---- Multiboot1 ----------------------------------------------------------

constexpr uint64_t mb1_info = 0x9000;
constexpr uint64_t mb1_strings = 0xa000;
constexpr uint64_t mb1_mmap = 0xb000;
constexpr uint64_t mb1_mods = 0xc000;

void put_mmap1(test::FakePhys& m, uint64_t at, const std::vector<mb1::MmapEntry>& es)
{
    uint64_t p = at;
    for (const auto& e : es) {
        m.put(p, e);
        p += e.size + 4;
    }
}

mb1::MmapEntry e1(uint64_t base, uint64_t len, uint32_t type) { return {20, base, len, type}; }

// What QEMU's -kernel loader produces: image name first on the command
// line, a BIOS e820 map, two modules.
mb1::Info qemu_like_mb1(test::FakePhys& m)
{
    m.add(mb1_info, sizeof(mb1::Info));
    m.add(mb1_strings, 0x1000);
    m.add(mb1_mmap, 0x1000);
    m.add(mb1_mods, 0x1000);
    const char cmd[] = "/boot/hv.elf32 console=com1 loglevel=debug";
    const char name[] = "qemu";
    const char m0[] = "dom0.elf root=/dev/vda";
    const char m1[] = "guests.cpio";
    m.put_bytes(mb1_strings, cmd, sizeof cmd);
    m.put_bytes(mb1_strings + 0x100, name, sizeof name);
    m.put_bytes(mb1_strings + 0x200, m0, sizeof m0);
    m.put_bytes(mb1_strings + 0x300, m1, sizeof m1);
    std::vector<mb1::MmapEntry> map = {
        e1(0, 0x9fc00, 1),           e1(0x9fc00, 0x400, 2),         e1(0xf0000, 0x10000, 2),
        e1(0x100000, 0x7ee0000, 1), e1(0x7fe0000, 0x20000, 2),     e1(0xfffc0000, 0x40000, 2),
    };
    put_mmap1(m, mb1_mmap, map);
    mb1::Mod mods[2] = {{0x200000, 0x280000, uint32_t(mb1_strings + 0x200), 0},
                        {0x280000, 0x281234, uint32_t(mb1_strings + 0x300), 0}};
    m.put(mb1_mods, mods);
    mb1::Info info = {};
    info.flags = mb1::flag_mem | mb1::flag_cmdline | mb1::flag_mods | mb1::flag_mmap | mb1::flag_loader_name;
    info.mem_lower = 639;
    info.mem_upper = 130944;
    info.cmdline = uint32_t(mb1_strings);
    info.boot_loader_name = uint32_t(mb1_strings + 0x100);
    info.mods_count = 2;
    info.mods_addr = uint32_t(mb1_mods);
    info.mmap_addr = uint32_t(mb1_mmap);
    info.mmap_length = uint32_t(map.size() * 24);
    m.put(mb1_info, info);
    return info;
}

TEST_F(MultibootTest, Mb1QemuLikeInfo)
{
    qemu_like_mb1(mem);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    EXPECT_EQ(bi.protocol, BootInfo::Protocol::multiboot1);
    EXPECT_STREQ(bi.cmdline, "/boot/hv.elf32 console=com1 loglevel=debug");  // stored as given
    EXPECT_STREQ(bi.loader_name, "qemu");
    ASSERT_EQ(bi.region_count, 6u);
    EXPECT_EQ(bi.regions[0].base, 0u);
    EXPECT_EQ(bi.regions[0].size, 0x9fc00u);
    EXPECT_EQ(bi.regions[0].type, MemType::usable);
    EXPECT_EQ(bi.regions[1].type, MemType::reserved);
    EXPECT_EQ(bi.regions[3].base, 0x100000u);
    EXPECT_EQ(bi.regions[3].size, 0x7ee0000u);
    EXPECT_EQ(bi.regions[5].base, 0xfffc0000u);
    ASSERT_EQ(bi.module_count, 2u);
    EXPECT_EQ(bi.modules[0].start, 0x200000u);
    EXPECT_EQ(bi.modules[0].end, 0x280000u);
    EXPECT_STREQ(bi.modules[0].cmdline, "dom0.elf root=/dev/vda");
    EXPECT_STREQ(bi.modules[1].cmdline, "guests.cpio");
    EXPECT_EQ(bi.modules[1].end, 0x281234u);
    EXPECT_EQ(bi.mem_lower_kib, 639u);
    EXPECT_EQ(bi.info_start, mb1_info);
    EXPECT_EQ(bi.info_end, mb1_info + sizeof(mb1::Info));
    EXPECT_FALSE(bi.has_rsdp);
    EXPECT_FALSE(bi.efi);
    EXPECT_TRUE(test::log_lines().empty());
}

// Bad input: no mmap flag. Only mem_lower/mem_upper describe memory.
TEST_F(MultibootTest, Mb1FallsBackToMemLowerUpper)
{
    mb1::Info info = qemu_like_mb1(mem);
    info.flags &= ~mb1::flag_mmap;
    mem.put(mb1_info, info);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    ASSERT_EQ(bi.region_count, 2u);
    EXPECT_EQ(bi.regions[0].base, 0u);
    EXPECT_EQ(bi.regions[0].size, 639u * 1024);
    EXPECT_EQ(bi.regions[1].base, 1u << 20);
    EXPECT_EQ(bi.regions[1].size, 130944ull * 1024);
    EXPECT_EQ(bi.regions[1].type, MemType::usable);
}

// Bad input: the first mmap entry has size 0 (would loop forever if
// trusted) -> warning, map ignored, mem_lower/upper used instead.
TEST_F(MultibootTest, Mb1MmapEntrySizeZero)
{
    qemu_like_mb1(mem);
    mem.put(mb1_mmap, uint32_t(0));
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    EXPECT_TRUE(test::log_contains("memory map entry size 0 < 20"));
    ASSERT_EQ(bi.region_count, 2u);  // from mem_lower/mem_upper
    EXPECT_EQ(bi.regions[1].base, 1u << 20);
}

// Bad input: third entry's size 12 (< 20): the first two are kept.
TEST_F(MultibootTest, Mb1MmapEntrySizeTooSmallMidway)
{
    qemu_like_mb1(mem);
    mem.put(mb1_mmap + 2 * 24, uint32_t(12));
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    EXPECT_TRUE(test::log_contains("memory map entry size 12 < 20"));
    EXPECT_EQ(bi.region_count, 2u);
    EXPECT_EQ(bi.regions[1].base, 0x9fc00u);
}

// Entries larger than 20 bytes (a loader adding fields) are stepped by
// their own size; bad input: the last entry's size overruns mmap_length.
TEST_F(MultibootTest, Mb1MmapHonoursEntrySizeAndLength)
{
    qemu_like_mb1(mem);
    struct [[gnu::packed]] Big {
        mb1::MmapEntry e;
        uint32_t extra;
    };
    Big a{{24, 0x100000, 0x1000000, 1}, 0xdeadbeef}, b{{24, 0x2000000, 0x1000, 2}, 0}, c{{200, 0x3000000, 0x1000, 1}, 0};
    mem.put(mb1_mmap, a);
    mem.put(mb1_mmap + 28, b);
    mem.put(mb1_mmap + 56, c);
    mb1::Info info = qemu_like_mb1(mem);
    info.mmap_length = 28 * 3;
    mem.put(mb1_info, info);
    mem.put(mb1_mmap, a);
    mem.put(mb1_mmap + 28, b);
    mem.put(mb1_mmap + 56, c);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    ASSERT_EQ(bi.region_count, 2u);
    EXPECT_EQ(bi.regions[0].size, 0x1000000u);
    EXPECT_EQ(bi.regions[1].base, 0x2000000u);
    EXPECT_EQ(bi.regions[1].type, MemType::reserved);
    EXPECT_TRUE(test::log_contains("entry size 200 overruns mmap_length 84"));
}

// Bad input: mmap_addr points to unreadable memory; no mem flag either ->
// Error::not_found, since nothing describes memory.
TEST_F(MultibootTest, Mb1UnreadableMmapAndNoMeminfo)
{
    mb1::Info info = qemu_like_mb1(mem);
    info.flags &= ~mb1::flag_mem;
    info.mmap_addr = 0x7000000;
    mem.put(mb1_info, info);
    auto st = hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi);
    EXPECT_EQ(st.error(), Error::not_found);
    EXPECT_TRUE(test::log_contains("memory map entry at 0x7000000 unreadable"));
    EXPECT_TRUE(test::log_contains("no memory information"));
}

// Bad input: command line pointer unreadable; module string running into
// unreadable memory without a NUL; module name pointer 0 (allowed: empty).
TEST_F(MultibootTest, Mb1UnreadableAndUnterminatedStrings)
{
    mb1::Info info = qemu_like_mb1(mem);
    info.cmdline = 0x6000000;
    mem.put(mb1_info, info);
    uint64_t tail = 0xd000;
    mem.add(tail, 5);
    mem.put_bytes(tail, "abcde", 5);  // no NUL before the end of readable memory
    mb1::Mod mods[2] = {{0x200000, 0x280000, uint32_t(tail), 0}, {0x280000, 0x290000, 0, 0}};
    mem.put(mb1_mods, mods);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    EXPECT_STREQ(bi.cmdline, "");
    EXPECT_TRUE(test::log_contains("command line at 0x6000000 unreadable after 0 bytes"));
    EXPECT_STREQ(bi.modules[0].cmdline, "abcde");
    EXPECT_TRUE(test::log_contains("module command line at 0xd000 unreadable after 5 bytes"));
    EXPECT_STREQ(bi.modules[1].cmdline, "");
}

// Bad input: a 600-byte command line and a 200-byte module string.
TEST_F(MultibootTest, Mb1LongStringsTruncated)
{
    qemu_like_mb1(mem);
    std::string longcmd(600, 'x');
    mem.put_bytes(mb1_strings, longcmd.c_str(), longcmd.size() + 1);
    std::string longmod(200, 'm');
    mem.put_bytes(mb1_strings + 0x400, longmod.c_str(), longmod.size() + 1);
    mb1::Mod mod = {0x200000, 0x280000, uint32_t(mb1_strings + 0x400), 0};
    mem.put(mb1_mods, mod);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    EXPECT_EQ(std::strlen(bi.cmdline), sizeof bi.cmdline - 1);
    EXPECT_TRUE(test::log_contains("command line at 0xa000 longer than 511 bytes, truncated"));
    EXPECT_EQ(std::strlen(bi.modules[0].cmdline), 127u);
    EXPECT_TRUE(test::log_contains("longer than 127 bytes"));
}

// Bad input: 300 mmap entries (more than max_regions); 20 modules (more than
// max_modules), one of them ending before it starts.
TEST_F(MultibootTest, Mb1TooManyRegionsAndModules)
{
    mb1::Info info = qemu_like_mb1(mem);
    uint64_t map = 0x100000;
    mem.add(map, 300 * 24);
    std::vector<mb1::MmapEntry> es;
    for (int i = 0; i < 300; ++i) es.push_back(e1(uint64_t(i) << 20, 0x1000, 1));
    put_mmap1(mem, map, es);
    info.mmap_addr = uint32_t(map);
    info.mmap_length = 300 * 24;
    uint64_t mods = 0x200000;
    mem.add(mods, 20 * 16);
    for (int i = 0; i < 20; ++i) {
        mb1::Mod m = {uint32_t(0x1000000 + i * 0x1000), uint32_t(0x1000000 + i * 0x1000 + 0x800), 0, 0};
        if (i == 3) std::swap(m.mod_start, m.mod_end);
        mem.put(mods + i * 16, m);
    }
    info.mods_addr = uint32_t(mods);
    info.mods_count = 20;
    mem.put(mb1_info, info);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    EXPECT_EQ(bi.region_count, hv::boot::max_regions);
    EXPECT_EQ(bi.regions[255].base, 255ull << 20);  // the first ones are kept
    EXPECT_TRUE(test::log_contains("more than 256 memory regions"));
    EXPECT_EQ(bi.module_count, hv::boot::max_modules);
    EXPECT_EQ(bi.modules[3].start, 0x1004000u);  // module 3 was dropped
    EXPECT_TRUE(test::log_contains("ends before it starts"));
    EXPECT_TRUE(test::log_contains("more than 16 modules"));
}

// Bad input: mods_count of 4 billion with a module list that ends after two
// readable entries: bounded, warned, the two kept.
TEST_F(MultibootTest, Mb1AbsurdModsCount)
{
    mb1::Info info = qemu_like_mb1(mem);
    info.mods_count = 0xffffffff;
    mem.put(mb1_info, info);
    uint64_t mods = 0x300000;
    mem.add(mods, 32);
    mb1::Mod ms[2] = {{0x1000000, 0x1001000, 0, 0}, {0x1001000, 0x1002000, 0, 0}};
    mem.put(mods, ms);
    info.mods_addr = uint32_t(mods);
    mem.put(mb1_info, info);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, mb1_info, bi).ok());
    EXPECT_EQ(bi.module_count, 2u);
    EXPECT_TRUE(test::log_contains("mods_count 4294967295 absurd"));
    EXPECT_TRUE(test::log_contains("module 2 entry at 0x300020 unreadable"));
}

// Bad input: info pointer unreadable; a loader giving only the first 72
// bytes of the structure (no VBE/framebuffer fields) is fine.
TEST_F(MultibootTest, Mb1InfoReadability)
{
    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, 0x5000, bi).error(), Error::out_of_range);
    EXPECT_TRUE(test::log_contains("info structure at 0x5000 unreadable"));

    mb1::Info info = {};
    info.flags = mb1::flag_mem;
    info.mem_lower = 640;
    info.mem_upper = 1024;
    mem.add(0x6000, mb1::info_min_size);
    mem.put_bytes(0x6000, &info, mb1::info_min_size);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb1::boot_magic, 0x6000, bi).ok());
    EXPECT_EQ(bi.info_end, 0x6000 + mb1::info_min_size);
    EXPECT_EQ(bi.region_count, 2u);
}

TEST_F(MultibootTest, UnknownMagicIsInvalid)
{
    qemu_like_mb1(mem);
    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), 0x1badb002, mb1_info, bi).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("unknown boot loader magic 0x1badb002"));
}

// ---- Multiboot2 ----------------------------------------------------------

constexpr uint64_t mb2_info = 0x10000;

struct Mb2Builder {
    std::vector<uint8_t> b = std::vector<uint8_t>(8, 0);

    void align()
    {
        while (b.size() % 8) b.push_back(0);
    }
    void raw(const void* p, size_t n)
    {
        auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
    }
    template <typename T> void pod(const T& v) { raw(&v, sizeof v); }
    // A tag whose size field is 8 + payload (or `size_override`).
    void tag(uint32_t type, const void* payload, size_t n, uint32_t size_override = 0)
    {
        align();
        pod(uint32_t(type));
        pod(uint32_t(size_override ? size_override : 8 + n));
        raw(payload, n);
    }
    void string_tag(uint32_t type, const char* s) { tag(type, s, std::strlen(s) + 1); }
    void module(uint32_t start, uint32_t end, const char* s)
    {
        std::vector<uint8_t> p(8);
        std::memcpy(p.data(), &start, 4);
        std::memcpy(p.data() + 4, &end, 4);
        p.insert(p.end(), s, s + std::strlen(s) + 1);
        tag(mb2::tag_module, p.data(), p.size());
    }
    void meminfo(uint32_t lower, uint32_t upper)
    {
        uint32_t p[2] = {lower, upper};
        tag(mb2::tag_basic_meminfo, p, sizeof p);
    }
    void mmap(const std::vector<mb2::MmapEntry>& es, uint32_t entry_size = 24)
    {
        std::vector<uint8_t> p(8);
        uint32_t ver = 0;
        std::memcpy(p.data(), &entry_size, 4);
        std::memcpy(p.data() + 4, &ver, 4);
        for (const auto& e : es) {
            size_t at = p.size();
            p.resize(at + (entry_size >= 24 ? entry_size : 24));
            std::memcpy(p.data() + at, &e, sizeof e);
        }
        tag(mb2::tag_mmap, p.data(), p.size());
    }
    void efi_mmap(const std::vector<hv::boot::efi::MemoryDescriptor>& ds, uint32_t desc_size = 48)
    {
        std::vector<uint8_t> p(8);
        uint32_t ver = 1;
        std::memcpy(p.data(), &desc_size, 4);
        std::memcpy(p.data() + 4, &ver, 4);
        for (const auto& d : ds) {
            size_t at = p.size();
            p.resize(at + desc_size);
            std::memcpy(p.data() + at, &d, desc_size < sizeof d ? desc_size : sizeof d);
        }
        tag(mb2::tag_efi_mmap, p.data(), p.size());
    }
    // Appends the end tag (unless told not to) and patches total_size.
    std::vector<uint8_t> finish(bool end_tag = true)
    {
        if (end_tag) tag(mb2::tag_end, nullptr, 0);
        uint32_t total = uint32_t(b.size());
        std::memcpy(b.data(), &total, 4);
        return b;
    }
};

void place(test::FakePhys& m, const std::vector<uint8_t>& info, uint64_t at = mb2_info)
{
    m.add(at, info.size());
    m.put_bytes(at, info.data(), info.size());
}

mb2::MmapEntry e2(uint64_t base, uint64_t len, uint32_t type) { return {base, len, type, 0}; }

std::vector<uint8_t> rsdp_bytes(uint8_t revision)
{
    std::vector<uint8_t> r(revision >= 2 ? 36 : 20, 0);
    std::memcpy(r.data(), "RSD PTR ", 8);
    r[15] = revision;
    return r;
}

// A GRUB-on-BIOS style info: cmdline without the image path, loader name,
// basic meminfo, e820 map, two modules, ACPI 1.0 RSDP, load base address.
Mb2Builder grub_bios_like()
{
    Mb2Builder b;
    b.string_tag(mb2::tag_cmdline, "console=com1 dom0_mem=1G");
    b.string_tag(mb2::tag_loader_name, "GRUB 2.06");
    b.module(0x800000, 0x900000, "dom0.elf loglevel=3");
    b.module(0x900000, 0x9fffff, "guests.cpio");
    b.meminfo(639, 2096064);
    b.tag(mb2::tag_bootdev, "\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12);  // ignored
    b.mmap({e2(0, 0x9fc00, 1), e2(0x9fc00, 0x400, 2), e2(0xe8000, 0x18000, 2), e2(0x100000, 0x7fee0000, 1),
            e2(0x7ffe0000, 0x20000, 3), e2(0xfeffc000, 0x4000, 4), e2(0x100000000, 0x80000000, 1)});
    auto r = rsdp_bytes(0);
    b.tag(mb2::tag_acpi_old, r.data(), r.size());
    uint32_t base = 0x200000;
    b.tag(mb2::tag_load_base_addr, &base, 4);
    return b;
}

TEST_F(MultibootTest, Mb2GrubBiosLikeInfo)
{
    auto info = grub_bios_like().finish();
    place(mem, info);
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    EXPECT_EQ(bi.protocol, BootInfo::Protocol::multiboot2);
    EXPECT_STREQ(bi.cmdline, "console=com1 dom0_mem=1G");
    EXPECT_STREQ(bi.loader_name, "GRUB 2.06");
    ASSERT_EQ(bi.module_count, 2u);
    EXPECT_EQ(bi.modules[0].start, 0x800000u);
    EXPECT_EQ(bi.modules[0].end, 0x900000u);
    EXPECT_STREQ(bi.modules[0].cmdline, "dom0.elf loglevel=3");
    EXPECT_STREQ(bi.modules[1].cmdline, "guests.cpio");
    ASSERT_EQ(bi.region_count, 7u);  // the mmap tag wins over basic meminfo
    EXPECT_EQ(bi.regions[4].type, MemType::acpi_reclaimable);
    EXPECT_EQ(bi.regions[5].type, MemType::acpi_nvs);
    EXPECT_EQ(bi.regions[6].base, 0x100000000u);
    EXPECT_EQ(bi.mem_lower_kib, 639u);
    EXPECT_TRUE(bi.has_rsdp);
    EXPECT_EQ(bi.rsdp_len, 20u);
    EXPECT_EQ(std::memcmp(bi.rsdp, "RSD PTR ", 8), 0);
    EXPECT_TRUE(bi.has_load_base);
    EXPECT_EQ(bi.load_base, 0x200000u);
    EXPECT_FALSE(bi.efi);
    EXPECT_EQ(bi.info_start, mb2_info);
    EXPECT_EQ(bi.info_end, mb2_info + info.size());
    EXPECT_TRUE(test::log_lines().empty());
}

hv::boot::efi::MemoryDescriptor efi_desc(uint32_t type, uint64_t base, uint64_t pages)
{
    return {type, 0, base, 0, pages, 0xf};
}

// A GRUB-on-UEFI style info: EFI system table, EFI memory map (which takes
// precedence over the e820-style map also given), both RSDP tags with the
// 1.0 copy after the 2.0 one.
TEST_F(MultibootTest, Mb2GrubEfiLikeInfo)
{
    namespace efi = hv::boot::efi;
    Mb2Builder b;
    b.string_tag(mb2::tag_cmdline, "iommu=force");
    uint64_t st = 0x7f9e018;
    b.tag(mb2::tag_efi64_system_table, &st, 8);
    b.mmap({e2(0, 0x80000000, 1)});
    b.efi_mmap({
        efi_desc(efi::boot_services_code, 0, 1),
        efi_desc(efi::conventional_memory, 0x1000, 0x9f),  // merges with the page before
        efi_desc(efi::loader_data, 0x100000, 0x100),
        efi_desc(efi::runtime_services_data, 0x200000, 0x10),
        efi_desc(efi::acpi_reclaim_memory, 0x210000, 0x10),
        efi_desc(efi::acpi_memory_nvs, 0x220000, 0x10),
        efi_desc(efi::unusable_memory, 0x230000, 1),
        efi_desc(efi::persistent_memory, 0x240000, 0x100),
        efi_desc(efi::memory_mapped_io, 0xfec00000, 1),
        efi_desc(99, 0x340000, 1),  // unknown type: reserved
    });
    auto r2 = rsdp_bytes(2);
    b.tag(mb2::tag_acpi_new, r2.data(), r2.size());
    auto r1 = rsdp_bytes(0);
    b.tag(mb2::tag_acpi_old, r1.data(), r1.size());
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    EXPECT_TRUE(bi.efi);
    EXPECT_EQ(bi.efi_system_table, st);
    EXPECT_FALSE(bi.efi_boot_services);
    ASSERT_EQ(bi.region_count, 9u);
    EXPECT_EQ(bi.regions[0].base, 0u);
    EXPECT_EQ(bi.regions[0].size, 0xa0000u);
    EXPECT_EQ(bi.regions[0].type, MemType::usable);
    EXPECT_EQ(bi.regions[1].type, MemType::usable);  // loader data
    EXPECT_EQ(bi.regions[2].type, MemType::reserved);  // runtime services
    EXPECT_EQ(bi.regions[3].type, MemType::acpi_reclaimable);
    EXPECT_EQ(bi.regions[4].type, MemType::acpi_nvs);
    EXPECT_EQ(bi.regions[5].type, MemType::bad);
    EXPECT_EQ(bi.regions[6].type, MemType::reserved);  // persistent
    EXPECT_EQ(bi.regions[7].type, MemType::reserved);  // MMIO
    EXPECT_EQ(bi.regions[8].type, MemType::reserved);  // unknown
    EXPECT_EQ(bi.rsdp_len, 36u);
    EXPECT_EQ(bi.rsdp[15], 2);  // the 2.0 copy was kept
}

// Bad input: boot services not exited (tag 18): their memory stays reserved.
TEST_F(MultibootTest, Mb2EfiBootServicesStillRunning)
{
    namespace efi = hv::boot::efi;
    Mb2Builder b;
    b.efi_mmap({efi_desc(efi::boot_services_data, 0x100000, 0x10), efi_desc(efi::conventional_memory, 0x200000, 0x10)});
    b.tag(mb2::tag_efi_boot_services, nullptr, 0);
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    EXPECT_TRUE(bi.efi_boot_services);
    ASSERT_EQ(bi.region_count, 2u);
    EXPECT_EQ(bi.regions[0].type, MemType::reserved);
    EXPECT_EQ(bi.regions[1].type, MemType::usable);
    EXPECT_TRUE(test::log_contains("EFI boot services still running"));
}

// Bad input: EFI memory map descriptor_size 32 (< 40): map ignored, the
// e820-style map is used instead.
TEST_F(MultibootTest, Mb2EfiDescriptorSizeTooSmall)
{
    Mb2Builder b;
    b.efi_mmap({efi_desc(7, 0x100000, 0x10)}, 32);
    b.mmap({e2(0x100000, 0x100000, 1)});
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    EXPECT_TRUE(test::log_contains("descriptor_size 32 < 40"));
    ASSERT_EQ(bi.region_count, 1u);
    EXPECT_EQ(bi.regions[0].size, 0x100000u);
}

// Bad input: a tag with size 4 (< 8) after the command line: the walk stops
// there with a warning; earlier tags are kept; no memory tag seen.
TEST_F(MultibootTest, Mb2TagSizeBelowHeader)
{
    Mb2Builder b;
    b.meminfo(640, 1024);
    b.string_tag(mb2::tag_cmdline, "maxcpus=2");
    b.tag(mb2::tag_loader_name, "GRUB", 5, 4);
    b.string_tag(mb2::tag_loader_name, "never read");
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    EXPECT_STREQ(bi.cmdline, "maxcpus=2");
    EXPECT_STREQ(bi.loader_name, "");
    EXPECT_TRUE(test::log_contains("tag type 2 at offset 48 has size 4 < 8"));
    EXPECT_EQ(bi.region_count, 2u);  // from basic meminfo
}

// Bad input: a tag whose size runs past total_size.
TEST_F(MultibootTest, Mb2TagOverrunsTotalSize)
{
    Mb2Builder b;
    b.meminfo(640, 1024);
    b.tag(mb2::tag_cmdline, "console=none", 13, 4096);
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    EXPECT_STREQ(bi.cmdline, "");
    EXPECT_TRUE(test::log_contains("tag type 1 at offset 24 (size 4096) overruns total_size"));
}

// Bad input: total_size absurd (2 GiB), too small (8), unaligned info
// pointer, total_size larger than the readable memory, unreadable header.
TEST_F(MultibootTest, Mb2BadTotalSize)
{
    auto info = grub_bios_like().finish();
    uint32_t huge = 0x80000000;
    std::memcpy(info.data(), &huge, 4);
    place(mem, info);
    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("total_size 2147483648 absurd"));

    uint32_t tiny = 8;
    mem.put(mb2_info, tiny);
    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("total_size 8 absurd"));

    uint32_t more = uint32_t(info.size() + 64);
    mem.put(mb2_info, more);
    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).error(), Error::out_of_range);
    EXPECT_TRUE(test::log_contains("not readable"));

    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info + 4, bi).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("not 8-byte aligned"));

    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, 0x4000, bi).error(), Error::out_of_range);
}

// Bad input: mmap entry_size 0 and 16 (< 24): map ignored with a warning,
// basic meminfo used.
TEST_F(MultibootTest, Mb2MmapEntrySizeInvalid)
{
    for (uint32_t es : {0u, 16u}) {
        test::log_clear();
        test::FakePhys m;
        Mb2Builder b;
        b.mmap({e2(0x100000, 0x100000, 1), e2(0x200000, 0x100000, 1)}, es);
        b.meminfo(512, 4096);
        place(m, b.finish());
        ASSERT_TRUE(hv::boot::parse_multiboot(m.reader(), mb2::boot_magic, mb2_info, bi).ok());
        EXPECT_TRUE(test::log_contains("memory map entry_size " + std::to_string(es) + " < 24")) << es;
        ASSERT_EQ(bi.region_count, 2u);
        EXPECT_EQ(bi.regions[0].size, 512u * 1024);
        EXPECT_EQ(bi.regions[1].size, 4096u * 1024);
    }
}

// Entries of 32 bytes (a newer entry_version) are stepped by entry_size.
TEST_F(MultibootTest, Mb2MmapLargerEntries)
{
    Mb2Builder b;
    b.mmap({e2(0x100000, 0x100000, 1), e2(0x200000, 0x1000, 5)}, 32);
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    ASSERT_EQ(bi.region_count, 2u);
    EXPECT_EQ(bi.regions[1].base, 0x200000u);
    EXPECT_EQ(bi.regions[1].type, MemType::bad);
}

// Bad input: 300 map entries (> max_regions).
TEST_F(MultibootTest, Mb2TooManyRegions)
{
    Mb2Builder b;
    std::vector<mb2::MmapEntry> es;
    for (int i = 0; i < 300; ++i) es.push_back(e2(uint64_t(i) << 21, 0x1000, i % 2 ? 2 : 1));
    b.mmap(es);
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    EXPECT_EQ(bi.region_count, 256u);
    EXPECT_EQ(bi.regions[255].base, 255ull << 21);
    EXPECT_TRUE(test::log_contains("more than 256 memory regions"));
}

// Bad input: module tag whose string has no NUL inside the tag; module tag
// too short for its fixed fields; missing end tag.
TEST_F(MultibootTest, Mb2ModuleStringWithoutNulAndNoEndTag)
{
    Mb2Builder b;
    b.meminfo(640, 1024);
    uint8_t p[8 + 6];
    uint32_t s = 0x800000, e = 0x801000;
    std::memcpy(p, &s, 4);
    std::memcpy(p + 4, &e, 4);
    std::memcpy(p + 8, "abcdef", 6);  // no NUL; padding follows but is outside the tag
    b.tag(mb2::tag_module, p, sizeof p);
    b.tag(mb2::tag_module, p, 4);  // size 12 < 16
    place(mem, b.finish(false));
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    ASSERT_EQ(bi.module_count, 1u);
    EXPECT_STREQ(bi.modules[0].cmdline, "abcdef");
    EXPECT_TRUE(test::log_contains("module command line is not NUL-terminated"));
    EXPECT_TRUE(test::log_contains("module tag of 12 bytes too short"));
    EXPECT_TRUE(test::log_contains("no end tag"));
}

// Bad input: RSDP tag with 10 bytes; EFI 32-bit table pointer tag too
// short; no memory information at all -> Error::not_found.
TEST_F(MultibootTest, Mb2ShortTagsAndNoMemory)
{
    Mb2Builder b;
    b.tag(mb2::tag_acpi_old, "RSD PTR 12", 10);
    b.tag(mb2::tag_efi32_system_table, "ab", 2);
    uint32_t st = 0x1234;
    b.tag(mb2::tag_efi32_system_table, &st, 4);
    b.tag(77, "future", 6);  // unknown tag: skipped silently
    place(mem, b.finish());
    EXPECT_EQ(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).error(), Error::not_found);
    EXPECT_FALSE(bi.has_rsdp);
    EXPECT_TRUE(test::log_contains("ACPI RSDP tag 14 with 10 bytes too short"));
    EXPECT_TRUE(test::log_contains("EFI system table tag of 10 bytes too short"));
    EXPECT_TRUE(bi.efi);
    EXPECT_EQ(bi.efi_system_table, 0x1234u);
    EXPECT_TRUE(test::log_contains("no memory information"));
}

// A region whose length runs past 2^64 is clipped, not wrapped.
TEST_F(MultibootTest, Mb2RegionPastAddressSpaceClipped)
{
    Mb2Builder b;
    b.mmap({e2(0xfffffffffff00000ull, 0x200000, 2)});
    place(mem, b.finish());
    ASSERT_TRUE(hv::boot::parse_multiboot(mem.reader(), mb2::boot_magic, mb2_info, bi).ok());
    ASSERT_EQ(bi.region_count, 1u);
    EXPECT_EQ(bi.regions[0].base + bi.regions[0].size, ~0ull);
    EXPECT_TRUE(test::log_contains("runs past the address space"));
}

}  // namespace

namespace {

uint64_t lcg(uint64_t& s)
{
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 33;
}

void check_bounded(const BootInfo& bi)
{
    ASSERT_LE(bi.region_count, hv::boot::max_regions);
    ASSERT_LE(bi.module_count, hv::boot::max_modules);
    ASSERT_LT(strnlen(bi.cmdline, sizeof bi.cmdline), sizeof bi.cmdline);
    ASSERT_LT(strnlen(bi.loader_name, sizeof bi.loader_name), sizeof bi.loader_name);
    for (size_t i = 0; i < bi.module_count; ++i) {
        ASSERT_LT(strnlen(bi.modules[i].cmdline, sizeof bi.modules[i].cmdline), sizeof bi.modules[i].cmdline);
        ASSERT_LE(bi.modules[i].start, bi.modules[i].end);
    }
    for (size_t i = 0; i < bi.region_count; ++i) {
        ASSERT_NE(bi.regions[i].size, 0u);
        ASSERT_LE(bi.regions[i].size, ~0ull - bi.regions[i].base);
    }
    ASSERT_LE(bi.rsdp_len, sizeof bi.rsdp);
}

// Bad input, many times over: random bytes of a GRUB-like Multiboot2 info
// (tag headers, sizes, mmap fields, total_size) overwritten. The info lives
// in an exact-size buffer, so any read past it trips ASan; every result
// must respect the BootInfo bounds.
TEST_F(MultibootTest, Mb2RandomCorruptionStaysInBounds)
{
    auto good = grub_bios_like().finish();
    uint64_t seed = 7;
    for (int round = 0; round < 3000; ++round) {
        auto info = good;
        int flips = 1 + int(lcg(seed) % 8);
        for (int i = 0; i < flips; ++i) {
            size_t at = lcg(seed) % info.size();
            if (lcg(seed) % 4 == 0) at &= ~size_t(7);  // hit type/size fields more often
            info[at] = uint8_t(lcg(seed));
        }
        test::FakePhys m;
        place(m, info);
        auto st = hv::boot::parse_multiboot(m.reader(), mb2::boot_magic, mb2_info, bi);
        if (st.ok()) {
            EXPECT_GT(bi.region_count, 0u);
        }
        check_bounded(bi);
    }
}

// The same for Multiboot1: random info fields (flags, pointers, lengths)
// and random bytes in the memory map.
TEST_F(MultibootTest, Mb1RandomCorruptionStaysInBounds)
{
    uint64_t seed = 11;
    for (int round = 0; round < 2000; ++round) {
        test::FakePhys m;
        mb1::Info info = qemu_like_mb1(m);
        uint32_t words[17];  // flags .. boot_loader_name
        std::memcpy(words, &info, sizeof words);
        for (int i = 0, n = 1 + int(lcg(seed) % 3); i < n; ++i) {
            uint32_t v = uint32_t(lcg(seed));
            if (lcg(seed) % 2) v = uint32_t(0x9000 + lcg(seed) % 0x4000);  // near the real data
            words[lcg(seed) % 17] = v;
        }
        std::memcpy(&info, words, sizeof words);
        m.put(mb1_info, info);
        for (int i = 0, n = int(lcg(seed) % 4); i < n; ++i) m.at(mb1_mmap + lcg(seed) % 144)[0] = uint8_t(lcg(seed));
        (void)hv::boot::parse_multiboot(m.reader(), mb1::boot_magic, mb1_info, bi);
        check_bounded(bi);
    }
}

}  // namespace
