// Shared by the kernel loader tests: a vector-backed guest RAM that counts
// calls and refuses writes outside itself, and builders for synthetic ELF
// images (with notes in a PT_NOTE segment and/or an SHT_NOTE section) and
// bzImage-shaped files.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "lib/result.hpp"
#include "vmm/builder/boot.hpp"

namespace loader_test {

constexpr uint8_t fill = 0xa5;
constexpr uint64_t mib = 1ull << 20;

class VecMemory final : public vmm::builder::GuestMemory {
public:
    explicit VecMemory(uint64_t size) : bytes(size, fill) {}
    uint64_t size() const override { return bytes.size(); }
    lib::Status write(uint64_t gpa, const void* src, size_t len) override
    {
        ++calls;
        if (refuse) return lib::err(lib::Error::io);
        if (gpa > bytes.size() || len > bytes.size() - gpa) {
            outside = true;
            return lib::err(lib::Error::out_of_range);
        }
        if (len) memcpy(bytes.data() + gpa, src, len);
        return {};
    }
    lib::Status zero(uint64_t gpa, size_t len) override
    {
        ++calls;
        if (refuse) return lib::err(lib::Error::io);
        if (gpa > bytes.size() || len > bytes.size() - gpa) {
            outside = true;
            return lib::err(lib::Error::out_of_range);
        }
        if (len) memset(bytes.data() + gpa, 0, len);
        return {};
    }
    lib::Status read(uint64_t gpa, void* dst, size_t len) const override
    {
        if (!readable) return lib::err(lib::Error::unsupported);
        if (gpa > bytes.size() || len > bytes.size() - gpa) return lib::err(lib::Error::out_of_range);
        memcpy(dst, bytes.data() + gpa, len);
        return {};
    }

    uint8_t u8(uint64_t gpa) const { return bytes.at(gpa); }
    uint16_t u16(uint64_t gpa) const { return uint16_t(u8(gpa) | u8(gpa + 1) << 8); }
    uint32_t u32(uint64_t gpa) const { return uint32_t(u16(gpa)) | uint32_t(u16(gpa + 2)) << 16; }
    uint64_t u64(uint64_t gpa) const { return uint64_t(u32(gpa)) | uint64_t(u32(gpa + 4)) << 32; }
    std::string cstr(uint64_t gpa) const { return std::string(reinterpret_cast<const char*>(bytes.data() + gpa)); }
    bool same(uint64_t gpa, const std::vector<uint8_t>& v) const
    {
        return gpa + v.size() <= bytes.size() && (v.empty() || memcmp(bytes.data() + gpa, v.data(), v.size()) == 0);
    }
    bool all(uint64_t from, uint64_t to, uint8_t b) const
    {
        if (from >= to) return true;
        // All equal to the first, which is b (memcmp is fast under ASan).
        return bytes[from] == b && memcmp(bytes.data() + from, bytes.data() + from + 1, to - from - 1) == 0;
    }
    bool untouched() const { return calls == 0 && all(0, bytes.size(), fill); }

    std::vector<uint8_t> bytes;
    unsigned calls = 0;
    bool refuse = false, readable = true, outside = false;
};

inline void put16(std::vector<uint8_t>& v, size_t off, uint16_t x)
{
    if (v.size() < off + 2) v.resize(off + 2);
    memcpy(v.data() + off, &x, 2);
}
inline void put32(std::vector<uint8_t>& v, size_t off, uint32_t x)
{
    if (v.size() < off + 4) v.resize(off + 4);
    memcpy(v.data() + off, &x, 4);
}
inline void put64(std::vector<uint8_t>& v, size_t off, uint64_t x)
{
    if (v.size() < off + 8) v.resize(off + 8);
    memcpy(v.data() + off, &x, 8);
}
inline std::vector<uint8_t> bytes_of(size_t n, uint8_t seed)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 13);
    return v;
}

struct Seg {
    uint64_t paddr;
    std::vector<uint8_t> data;
    uint64_t mem_size = 0;  // 0: data.size()
};
struct ElfNote {
    std::string name;
    uint32_t type;
    std::vector<uint8_t> desc;
};
struct ElfSpec {
    bool is64 = true;
    uint64_t entry = 0x100000;
    std::vector<Seg> segs;
    std::vector<ElfNote> notes;
    bool note_segment = true;   // a PT_NOTE program header over the notes
    bool note_section = false;  // section headers: null + an SHT_NOTE one
};

inline std::vector<uint8_t> note_blob(const std::vector<ElfNote>& notes)
{
    std::vector<uint8_t> b;
    for (const ElfNote& n : notes) {
        size_t at = b.size();
        put32(b, at, uint32_t(n.name.size() + 1));
        put32(b, at + 4, uint32_t(n.desc.size()));
        put32(b, at + 8, n.type);
        b.insert(b.end(), n.name.begin(), n.name.end());
        b.push_back(0);
        while (b.size() % 4) b.push_back(0);
        b.insert(b.end(), n.desc.begin(), n.desc.end());
        while (b.size() % 4) b.push_back(0);
    }
    return b;
}

// Header, program headers, the notes, each segment's bytes (16-aligned),
// the section headers last if asked for, else the last segment ends the
// file.
inline std::vector<uint8_t> build_elf(const ElfSpec& s)
{
    size_t eh = s.is64 ? 64 : 52, ph = s.is64 ? 56 : 32, sh = s.is64 ? 64 : 40;
    bool note_ph = !s.notes.empty() && s.note_segment;
    size_t phnum = s.segs.size() + (note_ph ? 1 : 0);
    std::vector<uint8_t> f(eh + ph * phnum, 0);
    f[0] = 0x7f, f[1] = 'E', f[2] = 'L', f[3] = 'F';
    f[4] = s.is64 ? 2 : 1;
    f[5] = 1;
    f[6] = 1;
    put16(f, 16, 2);
    put16(f, 18, s.is64 ? 62 : 3);
    put32(f, 20, 1);
    if (s.is64) {
        put64(f, 24, s.entry);
        put64(f, 32, eh);
        put16(f, 52, uint16_t(eh));
        put16(f, 54, uint16_t(ph));
        put16(f, 56, uint16_t(phnum));
    } else {
        put32(f, 24, uint32_t(s.entry));
        put32(f, 28, uint32_t(eh));
        put16(f, 40, uint16_t(eh));
        put16(f, 42, uint16_t(ph));
        put16(f, 44, uint16_t(phnum));
    }
    auto phdr = [&](size_t i, uint32_t type, uint64_t off, uint64_t paddr, uint64_t filesz, uint64_t memsz) {
        size_t at = eh + i * ph;
        if (s.is64) {
            put32(f, at, type);
            put32(f, at + 4, 7);
            put64(f, at + 8, off);
            put64(f, at + 16, paddr);
            put64(f, at + 24, paddr);
            put64(f, at + 32, filesz);
            put64(f, at + 40, memsz);
            put64(f, at + 48, 16);
        } else {
            put32(f, at, type);
            put32(f, at + 4, uint32_t(off));
            put32(f, at + 8, uint32_t(paddr));
            put32(f, at + 12, uint32_t(paddr));
            put32(f, at + 16, uint32_t(filesz));
            put32(f, at + 20, uint32_t(memsz));
            put32(f, at + 24, 7);
            put32(f, at + 28, 16);
        }
    };
    std::vector<uint8_t> notes = note_blob(s.notes);
    size_t notes_at = f.size();
    f.insert(f.end(), notes.begin(), notes.end());
    if (note_ph) phdr(s.segs.size(), 4, notes_at, 0, notes.size(), 0);
    for (size_t i = 0; i < s.segs.size(); ++i) {
        const Seg& g = s.segs[i];
        uint64_t memsz = g.mem_size ? g.mem_size : g.data.size();
        size_t off = g.data.empty() ? 0 : (f.size() + 15) & ~size_t(15);
        phdr(i, 1, off, g.paddr, g.data.size(), memsz);
        if (g.data.empty()) continue;
        f.resize(off);
        f.insert(f.end(), g.data.begin(), g.data.end());
    }
    if (s.note_section && !s.notes.empty()) {
        size_t shoff = (f.size() + 7) & ~size_t(7);
        f.resize(shoff + 2 * sh, 0);
        size_t at = shoff + sh;  // section 1; section 0 is the null one
        put32(f, at + 4, 7);     // SHT_NOTE
        if (s.is64) {
            put64(f, at + 24, notes_at);
            put64(f, at + 32, notes.size());
            put64(f, 40, shoff);
            put16(f, 58, uint16_t(sh));
            put16(f, 60, 2);
        } else {
            put32(f, at + 16, uint32_t(notes_at));
            put32(f, at + 20, uint32_t(notes.size()));
            put32(f, 32, uint32_t(shoff));
            put16(f, 46, uint16_t(sh));
            put16(f, 48, 2);
        }
    }
    return f;
}

inline ElfNote pvh_note(uint64_t entry, size_t size = 8)
{
    std::vector<uint8_t> d(size, 0);
    memcpy(d.data(), &entry, size < 8 ? size : 8);
    return {"Xen", 18, d};
}

// A bzImage-shaped file: boot sector and setup (setup_sects, 0 meaning 4),
// the setup header at 0x1F1 ending at 0x26C (jump byte 0x6A), then
// pm_size bytes of "protected-mode kernel".
struct BzSpec {
    uint16_t version = 0x20f;
    uint8_t setup_sects = 1;
    uint8_t loadflags = 0x01;     // LOADED_HIGH
    uint16_t xloadflags = 0x03;   // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    uint8_t relocatable = 1;
    uint32_t kernel_alignment = 0x200000;
    uint64_t pref_address = 0x400000;
    uint32_t init_size = 0x400000;
    uint32_t cmdline_size = 2047;
    uint32_t initrd_addr_max = 0x7fffffff;
    size_t pm_size = 0x3000;
};

inline size_t bz_setup_bytes(const BzSpec& b) { return (size_t(b.setup_sects ? b.setup_sects : 4) + 1) * 512; }

inline std::vector<uint8_t> build_bzimage(const BzSpec& b)
{
    size_t setup = bz_setup_bytes(b);
    std::vector<uint8_t> f = bytes_of(setup, 0x31);  // the real-mode code: noise the loader must not copy
    f[0x1f1] = b.setup_sects;
    put16(f, 0x1f2, 1);           // root_flags
    put32(f, 0x1f4, uint32_t(b.pm_size / 16));
    put16(f, 0x1fa, 0xffff);      // vid_mode: normal
    put16(f, 0x1fc, 0);
    put16(f, 0x1fe, 0xaa55);
    f[0x200] = 0xeb;
    f[0x201] = 0x6a;              // header ends at 0x26C
    memcpy(f.data() + 0x202, "HdrS", 4);
    put16(f, 0x206, b.version);
    put32(f, 0x208, 0);
    put16(f, 0x20c, 0x1000);
    put16(f, 0x20e, 0x3a0);       // kernel_version string offset
    f[0x210] = 0;
    f[0x211] = b.loadflags;
    put16(f, 0x212, 0x8000);
    put32(f, 0x214, 0x100000);
    put32(f, 0x218, 0);
    put32(f, 0x21c, 0);
    put32(f, 0x220, 0);
    put16(f, 0x224, 0);
    f[0x226] = f[0x227] = 0;
    put32(f, 0x228, 0);
    put32(f, 0x22c, b.initrd_addr_max);
    put32(f, 0x230, b.kernel_alignment);
    f[0x234] = b.relocatable;
    f[0x235] = 21;
    put16(f, 0x236, b.xloadflags);
    put32(f, 0x238, b.cmdline_size);
    put32(f, 0x23c, 0);
    put64(f, 0x240, 0);
    put32(f, 0x248, 0x1234);      // payload_offset
    put32(f, 0x24c, 0x100);
    put64(f, 0x250, 0xdeadbeef);  // setup_data: the loader must clear it
    put64(f, 0x258, b.pref_address);
    put32(f, 0x260, b.init_size);
    put32(f, 0x264, 0x190);
    put32(f, 0x268, 0x2000);
    auto pm = bytes_of(b.pm_size, 0x5c);
    f.insert(f.end(), pm.begin(), pm.end());
    return f;
}

}  // namespace loader_test
