#include "lib/elf.hpp"

#include <cstring>

namespace lib::elf {
namespace {

// ELF header fields used here (System V gABI, Figure 4-3 / 5-1).
constexpr uint8_t magic[4] = {0x7f, 'E', 'L', 'F'};
constexpr uint8_t class32 = 1, class64 = 2, data_lsb = 1;
constexpr uint16_t et_exec = 2;
constexpr uint16_t em_386 = 3, em_x86_64 = 62;
constexpr uint32_t pt_load = 1;

template <typename T> bool load(const uint8_t* base, size_t size, uint64_t off, T& out)
{
    if (off > size || sizeof(T) > size - off) return false;
    memcpy(&out, base + off, sizeof(T));
    return true;
}

}  // namespace

Result<Image> parse(const void* data, size_t size)
{
    auto* p = static_cast<const uint8_t*>(data);
    if (size < 52 || memcmp(p, magic, 4) != 0) return err(Error::invalid);
    if (p[5] != data_lsb) return err(Error::unsupported);
    Image img{};
    img.is64 = p[4] == class64;
    if (!img.is64 && p[4] != class32) return err(Error::invalid);
    uint16_t type = 0, machine = 0, phentsize = 0, phnum = 0;
    uint64_t phoff = 0;
    if (img.is64) {
        if (size < 64) return err(Error::truncated);
        load(p, size, 16, type);
        load(p, size, 18, machine);
        load(p, size, 24, img.entry);
        load(p, size, 32, phoff);
        load(p, size, 54, phentsize);
        load(p, size, 56, phnum);
        if (machine != em_x86_64 || phentsize != 56) return err(Error::invalid);
    } else {
        uint32_t entry32 = 0, phoff32 = 0;
        load(p, size, 16, type);
        load(p, size, 18, machine);
        load(p, size, 24, entry32);
        load(p, size, 28, phoff32);
        load(p, size, 42, phentsize);
        load(p, size, 44, phnum);
        img.entry = entry32;
        phoff = phoff32;
        if (machine != em_386 || phentsize != 32) return err(Error::invalid);
    }
    if (type != et_exec) return err(Error::unsupported);
    if (phoff > size || uint64_t(phnum) * phentsize > size - phoff) return err(Error::truncated);
    for (unsigned i = 0; i < phnum; ++i) {
        uint64_t at = phoff + uint64_t(i) * phentsize;
        Segment s{};
        uint32_t ptype = 0;
        load(p, size, at, ptype);
        if (ptype != pt_load) continue;
        if (img.is64) {
            load(p, size, at + 4, s.flags);
            load(p, size, at + 8, s.file_offset);
            load(p, size, at + 16, s.vaddr);
            load(p, size, at + 24, s.paddr);
            load(p, size, at + 32, s.file_size);
            load(p, size, at + 40, s.mem_size);
        } else {
            uint32_t v[6] = {};
            load(p, size, at + 4, v);  // offset, vaddr, paddr, filesz, memsz, flags
            s.file_offset = v[0];
            s.vaddr = v[1];
            s.paddr = v[2];
            s.file_size = v[3];
            s.mem_size = v[4];
            s.flags = v[5];
        }
        if (s.file_size > s.mem_size) return err(Error::invalid);
        if (s.file_offset > size || s.file_size > size - s.file_offset) return err(Error::truncated);
        if (s.paddr + s.mem_size < s.paddr) return err(Error::invalid);
        if (img.segment_count == 16) return err(Error::unsupported);
        img.segments[img.segment_count++] = s;
    }
    if (img.segment_count == 0) return err(Error::invalid);
    return img;
}

}  // namespace lib::elf
