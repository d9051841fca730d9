// libFuzzer target for the domain builder's kernel loaders: detect_kernel,
// load_kernel and each loader directly (PVH, plain ELF, bzImage, Multiboot,
// Multiboot2) on the same bytes, into an 8 MiB guest RAM. Inputs are short
// (-max_len=64), so byte 0 picks how the rest is used:
//   bit 7 set: the rest is the image itself;
//   otherwise byte 0 picks one of the valid kernels built below (a PVH
//   ELF64, a PVH ELF32 with its note in a section, a bzImage, a Multiboot
//   ELF, a Multiboot2 ELF, a Multiboot2 address-tag image) and each
//   following 3 bytes are one patch (op in the top 2 bits, 14-bit offset,
//   value): poke a byte, write a 32-bit boundary value, cut the image there,
//   or poke a byte of the ELF/boot headers' first 1 KiB.
// Byte 0's bits 4-6 also choose the modules and the command line given.
// The image is copied to a buffer of exactly its size. Besides crashes and
// sanitizer reports, a finding is: a write outside RAM, an error without a
// sentence, an entry point outside RAM (but for Multiboot1), a Multiboot information address
// other than 0x9000,
// an unknown kind that load_kernel did not refuse as unsupported.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/builder/kernel_image.hpp"
#include "vmm/builder/linux_loader.hpp"
#include "vmm/builder/multiboot2_loader.hpp"
#include "vmm/builder/multiboot_loader.hpp"

namespace {

using namespace vmm::builder;

void check(bool ok)
{
    if (!ok) __builtin_trap();
}

constexpr uint64_t ram_size = 8ull << 20;

class FuzzMemory final : public GuestMemory {
public:
    FuzzMemory() : bytes_(new uint8_t[ram_size]) { memset(bytes_, 0, ram_size); }
    uint64_t size() const override { return ram_size; }
    lib::Status write(uint64_t gpa, const void* src, size_t len) override
    {
        check(gpa <= ram_size && len <= ram_size - gpa);
        if (len) memcpy(bytes_ + gpa, src, len);
        return {};
    }
    lib::Status zero(uint64_t gpa, size_t len) override
    {
        check(gpa <= ram_size && len <= ram_size - gpa);
        if (len) memset(bytes_ + gpa, 0, len);
        return {};
    }
    lib::Status read(uint64_t gpa, void* dst, size_t len) const override
    {
        if (gpa > ram_size || len > ram_size - gpa) return lib::err(lib::Error::out_of_range);
        memcpy(dst, bytes_ + gpa, len);
        return {};
    }
    void put_rsdp()
    {
        static const uint8_t rsdp[36] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ', 0, 'H', 'V', 0, 0, 0, 0, 2,
                                         0,   1,   0xe, 0,   36};
        memcpy(bytes_ + 0xe0000, rsdp, sizeof rsdp);
    }

private:
    uint8_t* bytes_;
};

void put16(std::vector<uint8_t>& v, size_t off, uint16_t x)
{
    if (v.size() < off + 2) v.resize(off + 2);
    memcpy(v.data() + off, &x, 2);
}
void put32(std::vector<uint8_t>& v, size_t off, uint32_t x)
{
    if (v.size() < off + 4) v.resize(off + 4);
    memcpy(v.data() + off, &x, 4);
}
void put64(std::vector<uint8_t>& v, size_t off, uint64_t x)
{
    if (v.size() < off + 8) v.resize(off + 8);
    memcpy(v.data() + off, &x, 8);
}

// ELF: header, two program headers (PT_LOAD text at 1 MiB with `text`,
// PT_NOTE over `notes`), optionally section headers (null, SHT_NOTE).
std::vector<uint8_t> elf(bool is64, const std::vector<uint8_t>& text, const std::vector<uint8_t>& notes, bool sections)
{
    size_t eh = is64 ? 64 : 52, ph = is64 ? 56 : 32, sh = is64 ? 64 : 40;
    std::vector<uint8_t> f(eh + 2 * ph, 0);
    memcpy(f.data(), "\x7f" "ELF", 4);
    f[4] = is64 ? 2 : 1, f[5] = 1, f[6] = 1;
    put16(f, 16, 2);
    put16(f, 18, is64 ? 62 : 3);
    size_t notes_at = f.size();
    f.insert(f.end(), notes.begin(), notes.end());
    size_t text_at = (f.size() + 15) & ~size_t(15);
    f.resize(text_at);
    f.insert(f.end(), text.begin(), text.end());
    auto phdr = [&](size_t i, uint32_t type, uint64_t off, uint64_t paddr, uint64_t filesz, uint64_t memsz) {
        size_t at = eh + i * ph;
        if (is64) {
            put32(f, at, type);
            put64(f, at + 8, off);
            put64(f, at + 24, paddr);
            put64(f, at + 32, filesz);
            put64(f, at + 40, memsz);
        } else {
            put32(f, at, type);
            put32(f, at + 4, uint32_t(off));
            put32(f, at + 12, uint32_t(paddr));
            put32(f, at + 16, uint32_t(filesz));
            put32(f, at + 20, uint32_t(memsz));
        }
    };
    phdr(0, 1, text_at, 0x100000, text.size(), text.size() + 0x1000);
    phdr(1, sections ? 6 : 4, notes_at, 0, notes.size(), 0);  // PT_PHDR instead when the notes are in a section
    if (is64) {
        put64(f, 24, 0x100000);
        put64(f, 32, eh);
        put16(f, 54, uint16_t(ph));
        put16(f, 56, 2);
    } else {
        put32(f, 24, 0x100000);
        put32(f, 28, uint32_t(eh));
        put16(f, 42, uint16_t(ph));
        put16(f, 44, 2);
    }
    if (sections) {
        size_t shoff = (f.size() + 7) & ~size_t(7);
        f.resize(shoff + 2 * sh, 0);
        put32(f, shoff + sh + 4, 7);
        if (is64) {
            put64(f, shoff + sh + 24, notes_at);
            put64(f, shoff + sh + 32, notes.size());
            put64(f, 40, shoff);
            put16(f, 58, uint16_t(sh));
            put16(f, 60, 2);
        } else {
            put32(f, shoff + sh + 16, uint32_t(notes_at));
            put32(f, shoff + sh + 20, uint32_t(notes.size()));
            put32(f, 32, uint32_t(shoff));
            put16(f, 46, uint16_t(sh));
            put16(f, 48, 2);
        }
    }
    return f;
}

std::vector<uint8_t> pvh_notes(uint32_t entry)
{
    std::vector<uint8_t> n;
    put32(n, 0, 4), put32(n, 4, 4), put32(n, 8, 18);
    n.insert(n.end(), {'X', 'e', 'n', 0});
    put32(n, n.size(), entry);
    return n;
}

std::vector<uint8_t> mb2_header(const std::vector<uint32_t>& tags_words)
{
    std::vector<uint8_t> h(16, 0);
    for (uint32_t w : tags_words) put32(h, h.size(), w);
    put32(h, h.size(), 0), put32(h, h.size(), 8);  // end tag
    put32(h, 0, 0xe85250d6);
    put32(h, 8, uint32_t(h.size()));
    put32(h, 12, 0u - 0xe85250d6u - uint32_t(h.size()));
    return h;
}

std::vector<uint8_t> bzimage()
{
    std::vector<uint8_t> f(1024, 0x11);
    f[0x1f1] = 1;
    put16(f, 0x1fe, 0xaa55);
    f[0x200] = 0xeb, f[0x201] = 0x6a;
    memcpy(f.data() + 0x202, "HdrS", 4);
    put16(f, 0x206, 0x20f);
    f[0x211] = 1;
    put32(f, 0x214, 0x100000);
    put32(f, 0x22c, 0x7fffffff);
    put32(f, 0x230, 0x200000);
    f[0x234] = 1;
    put16(f, 0x236, 3);
    put32(f, 0x238, 255);
    put64(f, 0x258, 0x200000);
    put32(f, 0x260, 0x100000);
    f.resize(1024 + 0x40, 0x5c);
    return f;
}

std::vector<std::vector<uint8_t>> bases()
{
    std::vector<uint8_t> text(0x40, 0x90);
    std::vector<std::vector<uint8_t>> b;
    b.push_back(elf(true, text, pvh_notes(0x100000), false));
    b.push_back(elf(false, text, pvh_notes(0x100004), true));
    b.push_back(bzimage());
    std::vector<uint8_t> mb1 = text;
    put32(mb1, 0, 0x1badb002), put32(mb1, 4, 3), put32(mb1, 8, 0u - 0x1badb002u - 3u);
    b.push_back(elf(false, mb1, {}, false));
    // Multiboot2: an information request for 1, 2, 6 and ACPI new; module
    // alignment; then the same header with an address and entry tag at
    // 2 MiB.
    auto h = mb2_header({1, 24, 1, 2, 6, 15, 6, 8});
    std::vector<uint8_t> mb2 = h;
    mb2.insert(mb2.end(), text.begin(), text.end());
    b.push_back(elf(true, mb2, {}, false));
    auto flat = mb2_header({2, 24, 0x200000, 0x200000, 0, 0x201000, 3, 12, 0x200040, 0});
    flat.insert(flat.end(), text.begin(), text.end());
    b.push_back(flat);
    return b;
}

constexpr uint32_t values[] = {0, 1, 4, 8, 0x10, 0x18, 0x34, 0x38, 0x40, 0x1000, 0x6000, 0x9000, 0x9f000, 0xe0000,
                               0xfffff, 0x100000, 0x7fffff, 0x800000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff};

void run(const std::vector<uint8_t>& input, uint8_t selector)
{
    static FuzzMemory mem;
    mem.put_rsdp();
    // An exact-size copy: ASan sees any read past the image.
    std::vector<uint8_t> img(input);
    const uint8_t* p = img.empty() ? nullptr : img.data();
    static const uint8_t mod_a[300] = {1, 2, 3};
    static const uint8_t mod_b[5000] = {4};
    Module mods[3] = {{mod_a, sizeof mod_a, "a args"}, {mod_b, sizeof mod_b, ""}, {mod_a, 0, "empty"}};
    KernelArgs args{};
    args.module_count = (selector >> 4) & 3;
    args.modules = mods;
    args.cmdline = (selector & 0x40) ? lib::StrView("console=ttyS0 root=/dev/ram0") : lib::StrView("");
    args.rsdp_gpa = (selector & 0x40) ? 0xe0000 : 0;

    KernelKind kind = detect_kernel(p, img.size());
    check(kernel_kind_name(kind) != nullptr);
    // The Multiboot1 loader only wants its entry below 4 GiB (as it always
    // has); the others want it inside RAM.
    auto verify = [&](const lib::Result<FlatBoot>& r, const char* why, bool in_ram = true) {
        if (r.ok()) {
            check(!in_ram || r->entry < ram_size);
        } else {
            check(why != nullptr && why[0] != '\0');
        }
    };
    const char* why = nullptr;
    auto all = load_kernel(p, img.size(), mem, args, &why);
    verify(all, why, kind != KernelKind::multiboot1);
    if (kind == KernelKind::unknown) check(!all.ok() && all.error() == lib::Error::unsupported);
    using Fn = lib::Result<FlatBoot> (*)(const uint8_t*, size_t, GuestMemory&, const KernelArgs&, const char**);
    for (Fn fn : {Fn(load_pvh), Fn(load_elf_plain), Fn(load_bzimage), Fn(load_multiboot2)}) {
        why = nullptr;
        auto r = fn(p, img.size(), mem, args, &why);
        verify(r, why);
    }
    why = nullptr;
    auto mb = load_multiboot(p, img.size(), mem, args.cmdline, args.modules, args.module_count, &why);
    if (mb.ok()) {
        check(mb->info == multiboot_info_gpa);
    } else {
        check(why != nullptr && why[0] != '\0');
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const std::vector<std::vector<uint8_t>> base = bases();
    if (size == 0) return 0;
    if (data[0] & 0x80) {
        run(std::vector<uint8_t>(data + 1, data + size), data[0]);
        return 0;
    }
    std::vector<uint8_t> a = base[(data[0] & 0xf) % base.size()];
    for (size_t i = 1; i + 3 <= size && !a.empty(); i += 3) {
        unsigned op = data[i] >> 6;
        size_t off = (size_t(data[i] & 0x3f) << 8 | data[i + 1]) % a.size();
        uint8_t v = data[i + 2];
        switch (op) {
        case 0: a[off] = v; break;
        case 1: {
            uint32_t x = values[v % (sizeof values / sizeof values[0])];
            for (size_t k = 0; k < 4 && off + k < a.size(); ++k) a[off + k] = uint8_t(x >> (8 * k));
            break;
        }
        case 2: a.resize(off); break;
        case 3: a[off % (a.size() < 1024 ? a.size() : 1024)] = v; break;
        }
    }
    run(a, data[0]);
    return 0;
}
