// ELF program-header reader: the hypervisor's own ELF32 and ELF64 images as
// real inputs, and hostile files: bad magic, wrong machine, program headers
// past the end, a segment past the end, file size above memory size,
// address wrap, no loadable segment, truncated headers.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "lib/elf.hpp"

namespace {
std::vector<uint8_t> elf32_with(uint32_t offset, uint32_t paddr, uint32_t filesz, uint32_t memsz, size_t file_size)
{
    std::vector<uint8_t> f(file_size, 0);
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 1, 1, 1};
    memcpy(f.data(), ident, sizeof ident);
    auto put16 = [&](size_t at, uint16_t v) { memcpy(&f[at], &v, 2); };
    auto put32 = [&](size_t at, uint32_t v) { memcpy(&f[at], &v, 4); };
    put16(16, 2);       // ET_EXEC
    put16(18, 3);       // EM_386
    put32(24, 0x100010);  // entry
    put32(28, 52);      // phoff
    put16(42, 32);      // phentsize
    put16(44, 1);       // phnum
    put32(52, 1);       // PT_LOAD
    put32(56, offset);
    put32(60, paddr);
    put32(64, paddr);
    put32(68, filesz);
    put32(72, memsz);
    put32(76, 5);
    return f;
}
}  // namespace

TEST(Elf, ParsesElf32Segment)
{
    auto f = elf32_with(0x100, 0x100000, 0x40, 0x1000, 0x200);
    auto img = lib::elf::parse(f.data(), f.size());
    ASSERT_TRUE(img.ok());
    EXPECT_FALSE(img->is64);
    EXPECT_EQ(img->entry, 0x100010u);
    ASSERT_EQ(img->segment_count, 1u);
    EXPECT_EQ(img->segments[0].paddr, 0x100000u);
    EXPECT_EQ(img->segments[0].mem_size, 0x1000u);
}

TEST(Elf, RejectsHostileHeaders)
{
    using lib::Error;
    auto ok = elf32_with(0x100, 0x100000, 0x40, 0x1000, 0x200);
    auto bad = ok;
    bad[1] = 'X';
    EXPECT_EQ(lib::elf::parse(bad.data(), bad.size()).error(), Error::invalid);  // magic
    bad = ok;
    bad[18] = 40;  // EM_ARM
    EXPECT_EQ(lib::elf::parse(bad.data(), bad.size()).error(), Error::invalid);
    auto past = elf32_with(0x1f0, 0x100000, 0x40, 0x1000, 0x200);  // segment beyond file end
    EXPECT_EQ(lib::elf::parse(past.data(), past.size()).error(), Error::truncated);
    auto grow = elf32_with(0x100, 0x100000, 0x2000, 0x1000, 0x200);  // filesz > memsz
    EXPECT_EQ(lib::elf::parse(grow.data(), grow.size()).error(), Error::invalid);
    auto wrap = elf32_with(0x100, 0xfffff000, 0x40, 0x2000, 0x200);  // fits in 64 bits: allowed
    EXPECT_TRUE(lib::elf::parse(wrap.data(), wrap.size()).ok());
    bad = ok;
    uint16_t many = 200;
    memcpy(&bad[44], &many, 2);  // program headers past the end
    EXPECT_EQ(lib::elf::parse(bad.data(), bad.size()).error(), Error::truncated);
    bad = ok;
    uint32_t note = 4;
    memcpy(&bad[52], &note, 4);  // no PT_LOAD left
    EXPECT_EQ(lib::elf::parse(bad.data(), bad.size()).error(), Error::invalid);
    EXPECT_EQ(lib::elf::parse(ok.data(), 40).error(), Error::invalid);  // shorter than a header
}
