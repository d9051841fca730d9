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
constexpr uint32_t pt_note = 4;
constexpr uint32_t sht_note = 7;

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

namespace {

// Walks one note area [off, off + len) of the file (clipped to it). Each
// note: namesz, descsz, type (4 bytes each), the name and the descriptor,
// each padded to 4 bytes (gABI; ELF64 notes on x86-64 use 4 too, as Linux
// and Xen emit them).
bool scan_notes(const uint8_t* p, size_t size, uint64_t off, uint64_t len, const char* name, uint32_t type, Note& out)
{
    if (off >= size) return false;
    if (len > size - off) len = size - off;
    size_t name_len = strlen(name);
    uint64_t at = 0;
    while (len - at >= 12) {
        uint32_t namesz = 0, descsz = 0, ntype = 0;
        load(p, size, off + at, namesz);
        load(p, size, off + at + 4, descsz);
        load(p, size, off + at + 8, ntype);
        uint64_t name_pad = (uint64_t(namesz) + 3) & ~uint64_t(3);
        uint64_t desc_pad = (uint64_t(descsz) + 3) & ~uint64_t(3);
        uint64_t body = len - at - 12;
        if (name_pad > body || descsz > body - name_pad) return false;
        const uint8_t* n = p + off + at + 12;
        if (ntype == type && namesz == name_len + 1 && memcmp(n, name, name_len) == 0 && n[name_len] == 0) {
            out = Note{n + name_pad, descsz};
            return true;
        }
        // The last note's descriptor padding may be cut by the area's end.
        if (desc_pad > body - name_pad) return false;
        at += 12 + name_pad + desc_pad;
    }
    return false;
}

}  // namespace

Result<Note> find_note(const void* data, size_t size, const char* name, uint32_t type)
{
    auto* p = static_cast<const uint8_t*>(data);
    if (!p || size < 52 || memcmp(p, magic, 4) != 0 || p[5] != data_lsb) return err(Error::invalid);
    bool is64 = p[4] == class64;
    if (!is64 && p[4] != class32) return err(Error::invalid);
    if (is64 && size < 64) return err(Error::invalid);
    uint64_t phoff = 0, shoff = 0;
    uint16_t phentsize = 0, phnum = 0, shentsize = 0, shnum = 0;
    if (is64) {
        load(p, size, 32, phoff);
        load(p, size, 40, shoff);
        load(p, size, 54, phentsize);
        load(p, size, 56, phnum);
        load(p, size, 58, shentsize);
        load(p, size, 60, shnum);
    } else {
        uint32_t ph32 = 0, sh32 = 0;
        load(p, size, 28, ph32);
        load(p, size, 32, sh32);
        load(p, size, 42, phentsize);
        load(p, size, 44, phnum);
        load(p, size, 46, shentsize);
        load(p, size, 48, shnum);
        phoff = ph32;
        shoff = sh32;
    }
    Note note{};
    if (phentsize == (is64 ? 56 : 32) && phoff <= size && uint64_t(phnum) * phentsize <= size - phoff) {
        for (unsigned i = 0; i < phnum; ++i) {
            uint64_t at = phoff + uint64_t(i) * phentsize;
            uint32_t ptype = 0;
            load(p, size, at, ptype);
            if (ptype != pt_note) continue;
            uint64_t off = 0, len = 0;
            if (is64) {
                load(p, size, at + 8, off);
                load(p, size, at + 32, len);
            } else {
                uint32_t o = 0, l = 0;
                load(p, size, at + 4, o);
                load(p, size, at + 16, l);
                off = o, len = l;
            }
            if (scan_notes(p, size, off, len, name, type, note)) return note;
        }
    }
    if (shentsize == (is64 ? 64 : 40) && shoff <= size && uint64_t(shnum) * shentsize <= size - shoff) {
        for (unsigned i = 0; i < shnum; ++i) {
            uint64_t at = shoff + uint64_t(i) * shentsize;
            uint32_t stype = 0;
            load(p, size, at + 4, stype);
            if (stype != sht_note) continue;
            uint64_t off = 0, len = 0;
            if (is64) {
                load(p, size, at + 24, off);
                load(p, size, at + 32, len);
            } else {
                uint32_t o = 0, l = 0;
                load(p, size, at + 16, o);
                load(p, size, at + 20, l);
                off = o, len = l;
            }
            if (scan_notes(p, size, off, len, name, type, note)) return note;
        }
    }
    return err(Error::not_found);
}

}  // namespace lib::elf
