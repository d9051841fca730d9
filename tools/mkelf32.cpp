// mkelf32: convert the hypervisor's ELF64 image into an ELF32 image for
// Multiboot1 loaders that refuse ELF64 (QEMU -kernel, iPXE).
//
// Every PT_LOAD segment is copied with its physical address used as both the
// virtual and the physical address: a Multiboot loader runs the image with
// paging off, so the higher-half link addresses mean nothing to it. The entry
// point must already be physical (the 32-bit Multiboot entry).
#include <elf.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace {

int fail(const char* what)
{
    std::fprintf(stderr, "mkelf32: %s\n", what);
    return 1;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 3) return fail("usage: mkelf32 <in.elf64> <out.elf32>");
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) return fail("cannot open input");
    std::vector<unsigned char> img((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (img.size() < sizeof(Elf64_Ehdr)) return fail("input too short for an ELF64 header");
    Elf64_Ehdr eh;
    std::memcpy(&eh, img.data(), sizeof eh);
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_machine != EM_X86_64)
        return fail("input is not an x86-64 ELF64 file");
    if (eh.e_entry >= (1ull << 32)) return fail("entry point is not a 32-bit physical address");
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff + uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr) > img.size())
        return fail("bad program header table");

    std::vector<Elf64_Phdr> loads;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph;
        std::memcpy(&ph, img.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD) continue;
        if (ph.p_offset + ph.p_filesz > img.size()) return fail("segment outside the file");
        if (ph.p_paddr + ph.p_memsz >= (1ull << 32)) return fail("segment above 4 GiB physical");
        loads.push_back(ph);
    }
    if (loads.empty()) return fail("no loadable segments");

    constexpr uint32_t page = 0x1000;
    Elf32_Ehdr oh{};
    std::memcpy(oh.e_ident, ELFMAG, SELFMAG);
    oh.e_ident[EI_CLASS] = ELFCLASS32;
    oh.e_ident[EI_DATA] = ELFDATA2LSB;
    oh.e_ident[EI_VERSION] = EV_CURRENT;
    oh.e_type = ET_EXEC;
    oh.e_machine = EM_386;
    oh.e_version = EV_CURRENT;
    oh.e_entry = static_cast<uint32_t>(eh.e_entry);
    oh.e_phoff = sizeof(Elf32_Ehdr);
    oh.e_ehsize = sizeof(Elf32_Ehdr);
    oh.e_phentsize = sizeof(Elf32_Phdr);
    oh.e_phnum = static_cast<Elf32_Half>(loads.size());

    std::vector<unsigned char> out(page, 0);  // headers live in the first page
    std::vector<Elf32_Phdr> phs;
    for (const auto& ph : loads) {
        // Keep file offset congruent to the address modulo the page size.
        size_t off = (out.size() + page - 1) & ~size_t(page - 1);
        off += ph.p_paddr & (page - 1);
        out.resize(off + ph.p_filesz, 0);
        std::memcpy(out.data() + off, img.data() + ph.p_offset, ph.p_filesz);
        Elf32_Phdr o{};
        o.p_type = PT_LOAD;
        o.p_offset = static_cast<uint32_t>(off);
        o.p_vaddr = o.p_paddr = static_cast<uint32_t>(ph.p_paddr);
        o.p_filesz = static_cast<uint32_t>(ph.p_filesz);
        o.p_memsz = static_cast<uint32_t>(ph.p_memsz);
        o.p_flags = ph.p_flags;
        o.p_align = page;
        phs.push_back(o);
    }
    if (sizeof(Elf32_Ehdr) + phs.size() * sizeof(Elf32_Phdr) > page) return fail("too many segments");
    std::memcpy(out.data(), &oh, sizeof oh);
    std::memcpy(out.data() + sizeof oh, phs.data(), phs.size() * sizeof(Elf32_Phdr));

    std::ofstream o(argv[2], std::ios::binary | std::ios::trunc);
    o.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    if (!o) return fail("cannot write output");
    return 0;
}
