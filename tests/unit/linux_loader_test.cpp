// Linux-style loaders (vmm/builder/linux_loader): PVH ELFs (notes in a
// PT_NOTE segment or only in an SHT_NOTE section, 4- and 8-byte entry
// notes), plain ELFs and bzImages built in the test and loaded into a
// vector-backed RAM; every field of hvm_start_info (with its memory map and
// module list) and of the zero page is read back. Bad inputs: no or bad
// PVH notes, segments outside RAM or over the boot structures or the BIOS
// area, huge command lines, too many modules or modules that do not fit,
// old or 32-bit-only bzImages, kernels too big for RAM, every truncation of
// a small image. A refused load writes nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "loader_test_util.hpp"
#include "vmm/builder/linux_loader.hpp"

using lib::Error;
using namespace loader_test;
using vmm::builder::FlatBoot;
using vmm::builder::KernelArgs;
using vmm::builder::Module;

namespace {

struct Loaded {
    lib::Result<FlatBoot> r;
    const char* why;
};

using LoadFn = lib::Result<FlatBoot> (*)(const uint8_t*, size_t, vmm::builder::GuestMemory&, const KernelArgs&,
                                         const char**);

Loaded run(LoadFn fn, const std::vector<uint8_t>& img, VecMemory& mem, const KernelArgs& args = {})
{
    const char* why = nullptr;
    auto r = fn(img.data(), img.size(), mem, args, &why);
    return {std::move(r), why};
}

// Refused with `e` and a sentence (containing `words` if given), nothing
// written.
void expect_refused(LoadFn fn, const std::vector<uint8_t>& img, Error e, const char* words = nullptr,
                    const KernelArgs& args = {}, uint64_t ram = 16 * mib)
{
    VecMemory mem(ram);
    auto [r, why] = run(fn, img, mem, args);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), e) << (why ? why : "");
    ASSERT_NE(why, nullptr);
    EXPECT_GT(strlen(why), 0u);
    if (words) {
        EXPECT_NE(std::string(why).find(words), std::string::npos) << why;
    }
    EXPECT_TRUE(mem.untouched());
}

std::vector<uint8_t> pvh_kernel(bool is64 = true, uint64_t entry = 0x100040, size_t note_size = 8)
{
    ElfSpec s;
    s.is64 = is64;
    s.entry = 0xffffffff81000000ull & (is64 ? ~0ull : 0xffffffffull);  // a virtual e_entry, unused by PVH
    s.segs = {{0x100000, bytes_of(0x300, 1)}, {0x102000, bytes_of(0x80, 2), 0x3000}};
    s.notes = {{"Linux", 6, {1, 2, 3, 4}}, pvh_note(entry, note_size)};
    return build_elf(s);
}

// The start_info at 0x6000 for `ram`, `nmods` modules, `rsdp`.
void expect_start_info(const VecMemory& mem, uint64_t ram, uint32_t nmods, uint64_t rsdp)
{
    EXPECT_EQ(mem.u32(0x6000), 0x336ec578u);
    EXPECT_EQ(mem.u32(0x6004), 1u);  // version
    EXPECT_EQ(mem.u32(0x6008), 0u);  // flags
    EXPECT_EQ(mem.u32(0x600c), nmods);
    EXPECT_EQ(mem.u64(0x6010), nmods ? 0x6100u : 0u);
    EXPECT_EQ(mem.u64(0x6018), 0x20000u);
    EXPECT_EQ(mem.u64(0x6020), rsdp);
    EXPECT_EQ(mem.u64(0x6028), 0x6040u);
    EXPECT_EQ(mem.u32(0x6030), 3u);
    EXPECT_EQ(mem.u32(0x6034), 0u);
    EXPECT_TRUE(mem.all(0x6038, 0x6040, 0));
    const uint64_t want[3][3] = {{0, 0x9f000, 1}, {0x9f000, 0x61000, 2}, {0x100000, ram - mib, 1}};
    for (int i = 0; i < 3; ++i) {
        uint64_t at = 0x6040 + 24 * i;
        EXPECT_EQ(mem.u64(at), want[i][0]) << i;
        EXPECT_EQ(mem.u64(at + 8), want[i][1]) << i;
        EXPECT_EQ(mem.u32(at + 16), want[i][2]) << i;
        EXPECT_EQ(mem.u32(at + 20), 0u) << i;
    }
    EXPECT_TRUE(mem.all(0x6040 + 72, 0x6100, 0));
    EXPECT_TRUE(mem.all(0x6100 + 32 * nmods, 0x7000, 0));
}

}  // namespace

TEST(PvhLoader, Elf64SegmentsStartInfoAndModules)
{
    auto img = pvh_kernel();
    VecMemory mem(32 * mib);
    auto initrd = bytes_of(5000, 7), second = bytes_of(0x2000, 9);
    Module mods[] = {{initrd.data(), initrd.size(), ""}, {second.data(), second.size(), "second args"}};
    KernelArgs args{"console=hvc0 root=/dev/ram0", mods, 2, 0xe0000};
    auto [r, why] = run(vmm::builder::load_pvh, img, mem, args);
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(r->entry, 0x100040u);
    EXPECT_EQ(r->eax, 0u);
    EXPECT_EQ(r->ebx, 0x6000u);
    EXPECT_EQ(r->esi, 0u);
    EXPECT_TRUE(mem.same(0x100000, bytes_of(0x300, 1)));
    EXPECT_EQ(mem.u8(0x100300), fill);
    EXPECT_TRUE(mem.same(0x102000, bytes_of(0x80, 2)));
    EXPECT_TRUE(mem.all(0x102080, 0x105000, 0));
    EXPECT_EQ(mem.u8(0x105000), fill);
    expect_start_info(mem, 32 * mib, 2, 0xe0000);
    EXPECT_EQ(mem.cstr(0x20000), "console=hvc0 root=/dev/ram0");
    // Modules: in order, page-aligned, the last ending at the top of RAM.
    uint64_t m1 = 32 * mib - 0x2000, m0 = m1 - 0x2000;
    EXPECT_EQ(mem.u64(0x6100), m0);
    EXPECT_EQ(mem.u64(0x6108), 5000u);
    EXPECT_EQ(mem.u64(0x6110), 0u);  // no command line: not present
    EXPECT_EQ(mem.u64(0x6118), 0u);
    EXPECT_EQ(mem.u64(0x6120), m1);
    EXPECT_EQ(mem.u64(0x6128), 0x2000u);
    EXPECT_EQ(mem.u64(0x6130), 0x30000u);
    EXPECT_EQ(mem.cstr(0x30000), "second args");
    EXPECT_TRUE(mem.same(m0, initrd));
    EXPECT_TRUE(mem.same(m1, second));
    EXPECT_TRUE(mem.all(m0 + 5000, m1, fill));  // the padding is not written
    // Nothing else: the BIOS area and low memory keep their bytes.
    EXPECT_TRUE(mem.all(0x9f000, 0x100000, fill));
    EXPECT_TRUE(mem.all(0, 0x6000, fill));
    EXPECT_TRUE(mem.all(0x7000, 0x20000, fill));
}

TEST(PvhLoader, Elf32FourByteNoteAndNoModules)
{
    auto img = pvh_kernel(false, 0x100010, 4);
    VecMemory mem(4 * mib);
    auto [r, why] = run(vmm::builder::load_pvh, img, mem, {"", nullptr, 0, 0});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(r->entry, 0x100010u);
    expect_start_info(mem, 4 * mib, 0, 0);
    EXPECT_EQ(mem.cstr(0x20000), "");
}

TEST(PvhLoader, NoteOnlyInASection)
{
    ElfSpec s;
    s.segs = {{0x200000, bytes_of(0x100, 3)}};
    s.notes = {pvh_note(0x200004)};
    s.note_segment = false;
    s.note_section = true;
    for (bool is64 : {true, false}) {
        s.is64 = is64;
        auto img = build_elf(s);
        VecMemory mem(4 * mib);
        auto [r, why] = run(vmm::builder::load_pvh, img, mem);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->entry, 0x200004u);
    }
}

TEST(PvhLoader, BadNotes)
{
    ElfSpec s;
    s.segs = {{0x100000, bytes_of(0x100, 3)}};
    auto with = [&](std::vector<ElfNote> notes) {
        s.notes = notes;
        return build_elf(s);
    };
    expect_refused(vmm::builder::load_pvh, with({}), Error::invalid, "no Xen PVH entry note");
    expect_refused(vmm::builder::load_pvh, with({{"Xen", 17, {0, 0, 0x10, 0}}}), Error::invalid, "no Xen PVH");
    expect_refused(vmm::builder::load_pvh, with({{"Xe", 18, {0, 0, 0x10, 0}}}), Error::invalid, "no Xen PVH");
    expect_refused(vmm::builder::load_pvh, with({{"Xen", 18, {0, 0}}}), Error::invalid, "neither 4 nor 8");
    expect_refused(vmm::builder::load_pvh, with({{"Xen", 18, std::vector<uint8_t>(16, 0)}}), Error::invalid,
                   "neither 4 nor 8");
    expect_refused(vmm::builder::load_pvh, with({{"Xen", 18, {}}}), Error::invalid, "neither 4 nor 8");
    expect_refused(vmm::builder::load_pvh, with({pvh_note(0x100000000ull)}), Error::invalid, "above 4 GiB");
    // A note whose descsz runs past its segment: not found there.
    auto img = with({pvh_note(0x100000)});
    put32(img, 64 + 2 * 56 + 4, 0x1000);  // the first note's descsz (notes follow the two program headers)
    expect_refused(vmm::builder::load_pvh, img, Error::invalid, "no Xen PVH");
    // The entry outside RAM.
    expect_refused(vmm::builder::load_pvh, with({pvh_note(0x2000000)}), Error::out_of_range, "entry point");
}

TEST(PvhLoader, SegmentsOutsideRamOrOverBootStructures)
{
    struct Case {
        uint64_t paddr, memsz;
        const char* words;
    };
    for (Case c : {Case{16 * mib - 0x100, 0x101, "outside the domain's RAM"}, Case{0x7fff00000000ull, 0x10, "outside"},
                   Case{0x5000, 0x1001, "start_info"}, Case{0x6fff, 1, "start_info"}, Case{0x20000, 1, "command lines"},
                   Case{0x20000 + 4, 1, "command lines"}, Case{0x9f000, 1, "BIOS"}, Case{0xe0000, 0x100, "BIOS"},
                   Case{0xfffff, 0x10, "BIOS"}}) {
        SCOPED_TRACE(c.paddr);
        ElfSpec s;
        s.segs = {{0x100000, bytes_of(0x100, 3)}, {c.paddr, {}, c.memsz}};
        s.notes = {pvh_note(0x100000)};
        expect_refused(vmm::builder::load_pvh, build_elf(s), Error::out_of_range, c.words, {"1234"});
    }
    // Just clear of the command line ("1234" and its NUL) and of the page.
    for (uint64_t paddr : {uint64_t(0x20005), uint64_t(0x7000), uint64_t(0x1000)}) {
        ElfSpec s;
        s.segs = {{0x100000, bytes_of(0x100, 3)}, {paddr, {}, 0x1000}};
        s.notes = {pvh_note(0x100000)};
        VecMemory mem(4 * mib);
        auto [r, why] = run(vmm::builder::load_pvh, build_elf(s), mem, {"1234"});
        EXPECT_TRUE(r.ok()) << std::hex << paddr << " " << why;
    }
}

TEST(PvhLoader, CommandLineLimits)
{
    std::string longest(0xffff, 'c');
    VecMemory mem(4 * mib);
    auto [r, why] = run(vmm::builder::load_pvh, pvh_kernel(), mem, {lib::StrView(longest.data(), longest.size())});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(mem.cstr(0x20000), longest);
    std::string huge(0x10000, 'c');
    expect_refused(vmm::builder::load_pvh, pvh_kernel(), Error::out_of_range, "64 KiB",
                   {lib::StrView(huge.data(), huge.size())});
}

TEST(PvhLoader, ModuleLimits)
{
    auto data = bytes_of(100, 1);
    std::vector<Module> many(33, Module{data.data(), data.size(), "m"});
    expect_refused(vmm::builder::load_pvh, pvh_kernel(), Error::out_of_range, "more than 32", {"", many.data(), 33});
    // 32 fit.
    {
        VecMemory mem(16 * mib);
        auto [r, why] = run(vmm::builder::load_pvh, pvh_kernel(), mem, {"", many.data(), 32});
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(mem.u32(0x600c), 32u);
        for (uint64_t i = 0; i < 32; ++i) {
            uint64_t gpa = mem.u64(0x6100 + 32 * i);
            EXPECT_EQ(gpa, 16 * mib - (32 - i) * 0x1000) << i;
            EXPECT_TRUE(mem.same(gpa, data));
            EXPECT_EQ(mem.cstr(mem.u64(0x6100 + 32 * i + 16)), "m");
        }
    }
    // Too big for the RAM above the kernel (which ends at 0x105000).
    std::vector<uint8_t> big(16 * mib - 0x105000 + 1, 1);
    Module one{big.data(), big.size(), ""};
    expect_refused(vmm::builder::load_pvh, pvh_kernel(), Error::out_of_range, "do not fit", {"", &one, 1});
    one.size = 16 * mib - 0x105000;  // exactly fits
    VecMemory mem(16 * mib);
    auto [r, why] = run(vmm::builder::load_pvh, pvh_kernel(), mem, {"", &one, 1});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(mem.u64(0x6100), 0x105000u);
    // Sizes near 2^64 do not wrap the placement.
    Module huge[2] = {{data.data(), ~size_t(0) - 100, ""}, {data.data(), 0x1000, ""}};
    expect_refused(vmm::builder::load_pvh, pvh_kernel(), Error::out_of_range, "do not fit", {"", huge, 2});
    // Data missing.
    Module none{nullptr, 10, ""};
    expect_refused(vmm::builder::load_pvh, pvh_kernel(), Error::invalid, "no data", {"", &none, 1});
    // Command lines over 64 KiB in all.
    std::string arg(0x4000, 'a');
    std::vector<Module> wordy(4, Module{data.data(), data.size(), lib::StrView(arg.data(), arg.size())});
    expect_refused(vmm::builder::load_pvh, pvh_kernel(), Error::out_of_range, "64 KiB", {"", wordy.data(), 4});
}

TEST(PvhLoader, SmallRamAndRefusedWrites)
{
    expect_refused(vmm::builder::load_pvh, pvh_kernel(), Error::out_of_range, "2 MiB", {}, 2 * mib - 4096);
    VecMemory mem(4 * mib);
    mem.refuse = true;
    auto [r, why] = run(vmm::builder::load_pvh, pvh_kernel(), mem);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::io);
    EXPECT_STREQ(why, "cannot write to the domain's RAM");
}

TEST(PvhLoader, EveryTruncationFails)
{
    auto img = pvh_kernel();
    for (size_t n = 0; n < img.size(); ++n) {
        std::unique_ptr<uint8_t[]> copy(new uint8_t[n ? n : 1]);
        if (n) memcpy(copy.get(), img.data(), n);
        VecMemory mem(64 * 1024);  // refused before RAM matters
        const char* why = nullptr;
        auto r = vmm::builder::load_pvh(n ? copy.get() : nullptr, n, mem, {}, &why);
        ASSERT_FALSE(r.ok()) << n;
        ASSERT_NE(why, nullptr);
        ASSERT_TRUE(mem.untouched()) << n;
    }
}

TEST(PlainElfLoader, EnteredAtEntryWithStartInfo)
{
    ElfSpec s;
    s.is64 = false;
    s.entry = 0x100020;
    s.segs = {{0x100000, bytes_of(0x100, 3)}};
    VecMemory mem(8 * mib);
    auto [r, why] = run(vmm::builder::load_elf_plain, build_elf(s), mem, {"plain"});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(r->entry, 0x100020u);
    EXPECT_EQ(r->ebx, 0x6000u);
    expect_start_info(mem, 8 * mib, 0, 0);
    EXPECT_EQ(mem.cstr(0x20000), "plain");
    s.entry = 8 * mib;
    expect_refused(vmm::builder::load_elf_plain, build_elf(s), Error::out_of_range, "entry point", {}, 8 * mib);
    s.is64 = true;
    s.entry = 0xffffffff81000000ull;
    expect_refused(vmm::builder::load_elf_plain, build_elf(s), Error::out_of_range, "entry point");
    expect_refused(vmm::builder::load_elf_plain, std::vector<uint8_t>(100, 0), Error::invalid, "ELF");
}

// ---- bzImage ----

namespace {

Loaded bz(const std::vector<uint8_t>& img, VecMemory& mem, const KernelArgs& args = {})
{
    return run(vmm::builder::load_bzimage, img, mem, args);
}

// The zero page's copy of the setup header equals the image's but for the
// fields the loader writes.
void expect_header_copied(const VecMemory& mem, const std::vector<uint8_t>& img)
{
    struct Field {
        size_t off, len;
    };
    const Field written[] = {{0x210, 2}, {0x214, 4}, {0x218, 8}, {0x224, 2}, {0x228, 4}, {0x250, 8}};
    for (size_t off = 0x1f1; off < 0x26c; ++off) {
        bool skip = false;
        for (Field f : written) skip |= off >= f.off && off < f.off + f.len;
        if (!skip) {
            ASSERT_EQ(mem.u8(0x7000 + off), img[off]) << std::hex << off;
        }
    }
}

}  // namespace

TEST(BzImageLoader, RelocatableAtPrefAddressWithInitrd)
{
    BzSpec b;
    auto img = build_bzimage(b);
    auto initrd = bytes_of(10000, 4);
    Module m{initrd.data(), initrd.size(), "ignored"};
    VecMemory mem(16 * mib);
    auto [r, why] = bz(img, mem, {"console=ttyS0 root=/dev/ram0", &m, 1, 0xe0000});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(r->entry, 0x400000u);
    EXPECT_EQ(r->eax, 0u);
    EXPECT_EQ(r->ebx, 0u);
    EXPECT_EQ(r->esi, 0x7000u);
    // The protected-mode kernel, after the setup sectors.
    EXPECT_TRUE(mem.same(0x400000, std::vector<uint8_t>(img.begin() + 1024, img.end())));
    EXPECT_EQ(mem.u8(0x403000), fill);
    // The zero page.
    const uint64_t zp = 0x7000;
    EXPECT_TRUE(mem.all(zp, zp + 0x70, 0));
    EXPECT_EQ(mem.u64(zp + 0x70), 0xe0000u);  // acpi_rsdp_addr
    EXPECT_TRUE(mem.all(zp + 0x78, zp + 0x1e8, 0));
    EXPECT_EQ(mem.u8(zp + 0x1e8), 3u);  // e820_entries
    EXPECT_TRUE(mem.all(zp + 0x1e9, zp + 0x1f1, 0));  // the sentinel at 0x1EF among them
    expect_header_copied(mem, img);
    EXPECT_EQ(mem.u8(zp + 0x210), 0xffu);   // type_of_loader
    EXPECT_EQ(mem.u8(zp + 0x211), 0x81u);   // LOADED_HIGH | CAN_USE_HEAP
    EXPECT_EQ(mem.u32(zp + 0x214), 0x400000u);  // code32_start
    uint64_t initrd_at = 16 * mib - 0x3000;
    EXPECT_EQ(mem.u32(zp + 0x218), initrd_at);
    EXPECT_EQ(mem.u32(zp + 0x21c), 10000u);
    EXPECT_EQ(mem.u16(zp + 0x224), 0xfe00u);
    EXPECT_EQ(mem.u32(zp + 0x228), 0x20000u);
    EXPECT_EQ(mem.u64(zp + 0x250), 0u);     // setup_data
    EXPECT_TRUE(mem.all(zp + 0x26c, zp + 0x2d0, 0));  // past the header: not copied
    const uint64_t want[3][3] = {{0, 0x9f000, 1}, {0x9f000, 0x61000, 2}, {0x100000, 15 * mib, 1}};
    for (int i = 0; i < 3; ++i) {
        uint64_t at = zp + 0x2d0 + 20 * i;
        EXPECT_EQ(mem.u64(at), want[i][0]);
        EXPECT_EQ(mem.u64(at + 8), want[i][1]);
        EXPECT_EQ(mem.u32(at + 16), want[i][2]);
    }
    EXPECT_TRUE(mem.all(zp + 0x2d0 + 60, zp + 0x1000, 0));
    EXPECT_EQ(mem.cstr(0x20000), "console=ttyS0 root=/dev/ram0");
    EXPECT_TRUE(mem.same(initrd_at, initrd));
    // Untouched: below the zero page, between it and the command line, the
    // BIOS area, and the kernel's run space beyond its file.
    EXPECT_TRUE(mem.all(0, 0x7000, fill));
    EXPECT_TRUE(mem.all(0x8000, 0x20000, fill));
    EXPECT_TRUE(mem.all(0x9f000, 0x400000, fill));
    EXPECT_TRUE(mem.all(0x403000, initrd_at, fill));
}

TEST(BzImageLoader, SetupSectsZeroMeansFour)
{
    BzSpec b;
    b.setup_sects = 0;
    auto img = build_bzimage(b);
    ASSERT_EQ(img.size(), 5 * 512 + b.pm_size);
    VecMemory mem(16 * mib);
    auto [r, why] = bz(img, mem);
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_TRUE(mem.same(0x400000, std::vector<uint8_t>(img.begin() + 2560, img.end())));
    EXPECT_EQ(mem.u64(0x7000 + 0x70), 0u);  // no RSDP given
    EXPECT_EQ(mem.u32(0x7000 + 0x218), 0u);  // no initrd
    EXPECT_EQ(mem.u32(0x7000 + 0x21c), 0u);
}

TEST(BzImageLoader, LoadAddresses)
{
    // Not relocatable: at 1 MiB (it moves itself to pref_address).
    {
        BzSpec b;
        b.relocatable = 0;
        VecMemory mem(16 * mib);
        auto [r, why] = bz(build_bzimage(b), mem);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->entry, 0x100000u);
        EXPECT_EQ(mem.u32(0x7214), 0x100000u);
    }
    // Relocatable, pref_address not aligned: the first 2 MiB boundary.
    {
        BzSpec b;
        b.pref_address = 0x480000;
        VecMemory mem(16 * mib);
        auto [r, why] = bz(build_bzimage(b), mem);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->entry, 0x200000u);
        EXPECT_EQ(mem.u32(0x7214), 0x200000u);
    }
    // A 16 MiB pref_address (x86-64's default) in 64 MiB.
    {
        BzSpec b;
        b.pref_address = 0x1000000;
        b.init_size = 0x2000000;
        VecMemory mem(64 * mib);
        auto [r, why] = bz(build_bzimage(b), mem);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->entry, 0x1000000u);
    }
    // Not relocatable and wanting to run below 1 MiB.
    BzSpec b;
    b.relocatable = 0;
    b.pref_address = 0x10000;
    expect_refused(vmm::builder::load_bzimage, build_bzimage(b), Error::out_of_range, "below 1 MiB");
    // A bad kernel_alignment.
    for (uint32_t align : {0u, 0x300000u, 0x800u, 0x80000000u}) {
        BzSpec c;
        c.kernel_alignment = align;
        expect_refused(vmm::builder::load_bzimage, build_bzimage(c), Error::invalid, "kernel_alignment");
    }
}

TEST(BzImageLoader, InitrdBelowInitrdAddrMax)
{
    BzSpec b;
    b.initrd_addr_max = 0x9fffff;  // its last byte may be at 0x9FFFFF
    b.init_size = 0x200000;
    auto initrd = bytes_of(0x1800, 5);
    Module m{initrd.data(), initrd.size(), ""};
    VecMemory mem(16 * mib);
    auto [r, why] = bz(build_bzimage(b), mem, {"", &m, 1});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(mem.u32(0x7218), 0xa00000u - 0x2000);
    EXPECT_TRUE(mem.same(0xa00000 - 0x2000, initrd));
    // An initrd that would have to overlap the kernel's init_size.
    b.initrd_addr_max = 0x600fff;  // the kernel runs in [4 MiB, 6 MiB)
    std::vector<uint8_t> big(0x2000, 1);
    Module mb{big.data(), big.size(), ""};
    expect_refused(vmm::builder::load_bzimage, build_bzimage(b), Error::out_of_range, "do not fit", {"", &mb, 1});
    mb.size = 0x1000;
    VecMemory mem2(16 * mib);
    auto [r2, why2] = bz(build_bzimage(b), mem2, {"", &mb, 1});
    ASSERT_TRUE(r2.ok()) << why2;
    EXPECT_EQ(mem2.u32(0x7218), 0x600000u);
}

TEST(BzImageLoader, RefusedKernels)
{
    auto with = [](auto change) {
        BzSpec b;
        change(b);
        return build_bzimage(b);
    };
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.version = 0x205; }), Error::unsupported, "older than 2.06");
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.version = 0x100; }), Error::unsupported, "older");
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.version = 0x20b; }), Error::unsupported, "64-bit");
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.xloadflags = 2; }), Error::unsupported, "64-bit");
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.loadflags = 0; }), Error::unsupported, "zImage");
    // Too big: init_size, or the file itself, past the end of RAM.
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.init_size = 12 * mib + 1; }), Error::out_of_range,
                   "does not fit");
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.init_size = 0xffffffff; }), Error::out_of_range,
                   "does not fit");
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec& b) { b.pm_size = 12 * mib + 16; b.init_size = 0x1000; }),
                   Error::out_of_range, "does not fit");
    expect_refused(vmm::builder::load_bzimage, with([](BzSpec&) {}), Error::out_of_range, "2 MiB", {}, mib);
    // Not a bzImage at all, or cut short.
    auto img = with([](BzSpec&) {});
    auto nohdr = img;
    nohdr[0x202] = 'h';
    expect_refused(vmm::builder::load_bzimage, nohdr, Error::invalid, "HdrS");
    expect_refused(vmm::builder::load_bzimage, std::vector<uint8_t>(img.begin(), img.begin() + 0x205), Error::truncated);
    expect_refused(vmm::builder::load_bzimage, std::vector<uint8_t>(img.begin(), img.begin() + 1024), Error::truncated,
                   "setup");
    auto sects = img;
    sects[0x1f1] = 0xff;  // setup past the end of the file
    expect_refused(vmm::builder::load_bzimage, sects, Error::truncated, "setup");
}

TEST(BzImageLoader, CommandLineAndModules)
{
    BzSpec b;
    b.cmdline_size = 10;
    auto img = build_bzimage(b);
    {
        VecMemory mem(16 * mib);
        auto [r, why] = bz(img, mem, {"0123456789"});
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(mem.cstr(0x20000), "0123456789");
    }
    expect_refused(vmm::builder::load_bzimage, img, Error::out_of_range, "cmdline_size", {"0123456789a"});
    std::string huge(0x10000, 'x');
    expect_refused(vmm::builder::load_bzimage, build_bzimage(BzSpec{.cmdline_size = 0xffffffff}), Error::out_of_range,
                   "64 KiB", {lib::StrView(huge.data(), huge.size())});
    auto d = bytes_of(10, 1);
    Module two[2] = {{d.data(), d.size(), ""}, {d.data(), d.size(), ""}};
    expect_refused(vmm::builder::load_bzimage, img, Error::out_of_range, "one module", {"", two, 2});
}

TEST(BzImageLoader, AcpiRsdpOnlyFrom214)
{
    BzSpec b;
    b.version = 0x20d;
    VecMemory mem(16 * mib);
    auto [r, why] = bz(build_bzimage(b), mem, {"", nullptr, 0, 0xe0000});
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(mem.u64(0x7070), 0u);
}

TEST(BzImageLoader, EveryTruncationOfTheSetupFails)
{
    auto img = build_bzimage(BzSpec{});
    for (size_t n = 0; n <= 1024; ++n) {
        std::unique_ptr<uint8_t[]> copy(new uint8_t[n ? n : 1]);
        if (n) memcpy(copy.get(), img.data(), n);
        VecMemory mem(64 * 1024);  // refused before RAM matters
        const char* why = nullptr;
        auto r = vmm::builder::load_bzimage(n ? copy.get() : nullptr, n, mem, {}, &why);
        ASSERT_FALSE(r.ok()) << n;
        ASSERT_NE(why, nullptr);
        ASSERT_TRUE(mem.untouched()) << n;
    }
}

TEST(BzImageLoader, RefusedWrites)
{
    VecMemory mem(16 * mib);
    mem.refuse = true;
    auto [r, why] = bz(build_bzimage(BzSpec{}), mem);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::io);
    EXPECT_STREQ(why, "cannot write to the domain's RAM");
}
