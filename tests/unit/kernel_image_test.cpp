// Kernel format detection and dispatch (vmm/builder/kernel_image): each
// kind from a synthetic image, the order of preference when an image
// speaks several protocols, near misses, and load_kernel's registers for
// each kind. When the tree holds Debian's kernels (build/guest/vmlinux and
// vmlinuz, or the directory in $HV_GUEST_KERNEL_DIR) they are detected and
// loaded too; otherwise those two tests are skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "loader_test_util.hpp"
#include "vmm/builder/kernel_image.hpp"

using lib::Error;
using namespace loader_test;
using vmm::builder::detect_kernel;
using vmm::builder::KernelArgs;
using vmm::builder::KernelKind;
using vmm::builder::Module;

namespace {

std::vector<uint8_t> mb1_header()
{
    std::vector<uint8_t> h;
    put32(h, 0, 0x1badb002);
    put32(h, 4, 3);
    put32(h, 8, 0u - 0x1badb002u - 3u);
    return h;
}
std::vector<uint8_t> mb2_header()
{
    std::vector<uint8_t> h;
    put32(h, 0, 0xe85250d6);
    put32(h, 4, 0);
    put32(h, 8, 24);
    put32(h, 12, 0u - 0xe85250d6u - 24u);
    put32(h, 16, 0);
    put32(h, 20, 8);  // end tag
    return h;
}
std::vector<uint8_t> elf_with_text(const std::vector<uint8_t>& text, std::vector<ElfNote> notes = {})
{
    ElfSpec s;
    s.is64 = false;
    s.segs = {{0x100000, text}};
    s.notes = notes;
    return build_elf(s);
}
KernelKind kind(const std::vector<uint8_t>& v) { return detect_kernel(v.data(), v.size()); }

}  // namespace

TEST(KernelImage, DetectsEachKind)
{
    EXPECT_EQ(kind(elf_with_text(bytes_of(64, 1), {pvh_note(0x100000)})), KernelKind::elf_pvh);
    EXPECT_EQ(kind(build_bzimage(BzSpec{})), KernelKind::bzimage);
    EXPECT_EQ(kind(elf_with_text(mb1_header())), KernelKind::multiboot1);
    EXPECT_EQ(kind(elf_with_text(mb2_header())), KernelKind::multiboot2);
    EXPECT_EQ(kind(elf_with_text(bytes_of(64, 1))), KernelKind::elf_plain);
    EXPECT_EQ(kind(bytes_of(4096, 1)), KernelKind::unknown);
    EXPECT_EQ(kind({}), KernelKind::unknown);
    EXPECT_EQ(detect_kernel(nullptr, 100), KernelKind::unknown);
    EXPECT_STREQ(vmm::builder::kernel_kind_name(KernelKind::elf_pvh), "PVH ELF");
    EXPECT_STREQ(vmm::builder::kernel_kind_name(KernelKind::unknown), "unknown");
}

TEST(KernelImage, Preference)
{
    // PVH before Multiboot (Xen's own image has all three).
    auto text = mb1_header();
    auto h2 = mb2_header();
    text.resize(16, 0);
    text.insert(text.end(), h2.begin(), h2.end());
    EXPECT_EQ(kind(elf_with_text(text, {pvh_note(0x100000)})), KernelKind::elf_pvh);
    EXPECT_EQ(kind(elf_with_text(text)), KernelKind::multiboot1);
    // A bad checksum still picks the protocol (its loader says what is wrong).
    auto bad = mb1_header();
    bad[8] ^= 1;
    EXPECT_EQ(kind(elf_with_text(bad)), KernelKind::multiboot1);
    // Magic at the wrong alignment or too far: not a header.
    std::vector<uint8_t> f(0x3000, 0);
    auto h1 = mb1_header();
    memcpy(f.data() + 0x2000, h1.data(), 12);  // past 8 KiB
    EXPECT_EQ(kind(f), KernelKind::unknown);
    std::vector<uint8_t> g(0x1000, 0);
    memcpy(g.data() + 0x104, h2.data(), h2.size());  // 4- but not 8-aligned
    EXPECT_EQ(kind(g), KernelKind::unknown);
    memcpy(g.data() + 0x108, h2.data(), h2.size());
    EXPECT_EQ(kind(g), KernelKind::multiboot2);
    // "HdrS" one byte off.
    auto bz = build_bzimage(BzSpec{});
    bz.insert(bz.begin(), 0);
    EXPECT_NE(kind(bz), KernelKind::bzimage);
}

TEST(KernelImage, LoadKernelDispatches)
{
    KernelArgs args{"x"};
    const char* why = nullptr;
    {
        VecMemory mem(16 * mib);
        auto img = elf_with_text(mb1_header());
        auto r = vmm::builder::load_kernel(img.data(), img.size(), mem, args, &why);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->eax, 0x2badb002u);
        EXPECT_EQ(r->ebx, 0x9000u);
        EXPECT_EQ(r->esi, 0u);
    }
    {
        VecMemory mem(16 * mib);
        auto img = elf_with_text(mb2_header());
        auto r = vmm::builder::load_kernel(img.data(), img.size(), mem, args, &why);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->eax, 0x36d76289u);
        EXPECT_EQ(r->ebx, 0x9000u);
    }
    {
        VecMemory mem(16 * mib);
        auto img = build_bzimage(BzSpec{});
        auto r = vmm::builder::load_kernel(img.data(), img.size(), mem, args, &why);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->esi, 0x7000u);
        EXPECT_EQ(r->ebx, 0u);
    }
    for (bool pvh : {true, false}) {
        VecMemory mem(16 * mib);
        auto img = pvh ? elf_with_text(bytes_of(64, 1), {pvh_note(0x100008)}) : elf_with_text(bytes_of(64, 1));
        auto r = vmm::builder::load_kernel(img.data(), img.size(), mem, args, &why);
        ASSERT_TRUE(r.ok()) << why;
        EXPECT_EQ(r->entry, pvh ? 0x100008u : 0x100000u);
        EXPECT_EQ(r->ebx, 0x6000u);
        EXPECT_EQ(mem.u32(0x6000), 0x336ec578u);
    }
    {
        VecMemory mem(16 * mib);
        auto img = bytes_of(4096, 3);
        why = nullptr;
        auto r = vmm::builder::load_kernel(img.data(), img.size(), mem, args, &why);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error(), Error::unsupported);
        ASSERT_NE(why, nullptr);
        EXPECT_TRUE(mem.untouched());
    }
}

#ifdef HV_SOURCE_DIR
namespace {

std::vector<uint8_t> read_file(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) return {};
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string guest_dir()
{
    const char* env = getenv("HV_GUEST_KERNEL_DIR");
    return env && *env ? env : std::string(HV_SOURCE_DIR) + "/build/guest";
}

}  // namespace

TEST(KernelImage, DebianVmlinuxAsPvh)
{
    auto img = read_file(guest_dir() + "/vmlinux");
    if (img.empty()) GTEST_SKIP() << guest_dir() << "/vmlinux is not built";
    ASSERT_EQ(kind(img), KernelKind::elf_pvh);
    auto initrd = bytes_of(1 << 20, 9);
    Module m{initrd.data(), initrd.size(), ""};
    VecMemory mem(256 * mib);
    const char* why = nullptr;
    auto r = vmm::builder::load_kernel(img.data(), img.size(), mem, {"console=ttyS0", &m, 1, 0xe0000}, &why);
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_GE(r->entry, 0x100000u);
    EXPECT_EQ(r->ebx, 0x6000u);
    EXPECT_EQ(mem.u32(0x6000), 0x336ec578u);
    EXPECT_EQ(mem.u64(0x6100), 255 * mib);
    EXPECT_TRUE(mem.same(255 * mib, initrd));
    EXPECT_FALSE(mem.outside);
}

TEST(KernelImage, DebianBzImage)
{
    auto img = read_file(guest_dir() + "/vmlinuz");
    if (img.empty()) GTEST_SKIP() << guest_dir() << "/vmlinuz is not built";
    ASSERT_EQ(kind(img), KernelKind::bzimage);
    auto initrd = bytes_of(1 << 20, 9);
    Module m{initrd.data(), initrd.size(), ""};
    VecMemory mem(256 * mib);
    const char* why = nullptr;
    auto r = vmm::builder::load_kernel(img.data(), img.size(), mem, {"console=ttyS0", &m, 1, 0xe0000}, &why);
    ASSERT_TRUE(r.ok()) << why;
    EXPECT_EQ(r->esi, 0x7000u);
    EXPECT_EQ(mem.u32(0x7202), 0x53726448u);       // the header, copied
    EXPECT_GE(mem.u16(0x7206), 0x20cu);
    EXPECT_EQ(mem.u32(0x7214), r->entry);          // code32_start
    EXPECT_EQ(mem.u32(0x7218), 255 * mib);         // ramdisk_image
    EXPECT_EQ(mem.u32(0x721c), 1u << 20);
    EXPECT_EQ(mem.cstr(0x20000), "console=ttyS0");
    EXPECT_FALSE(mem.outside);
}
#endif
