// libFuzzer target for the x86 decoder, MMIO emulator and guest page walker.
// Input: byte 0 selects the mode (0-2: decode as 16/32/64-bit code, then
// emulate the result against fake memory; 3: walk random paging structures
// taken from the input). Invariant violations abort, so libFuzzer reports
// them like crashes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "hv/x86/decoder.hpp"
#include "hv/x86/fetch.hpp"
#include "hv/x86/mmio_emulator.hpp"
#include "hv/x86/page_walk.hpp"

using namespace hv::x86;

namespace {

struct Mem {
    const uint8_t* data;
    size_t size;
};

lib::Status ram_read(void* ctx, uint64_t gpa, void* dst, size_t len)
{
    auto* m = static_cast<Mem*>(ctx);
    if (gpa >= m->size || len > m->size - gpa) return lib::err(lib::Error::not_found);
    std::memcpy(dst, m->data + gpa, len);
    return {};
}
lib::Status ram_write(void* ctx, uint64_t gpa, const void*, size_t len)
{
    auto* m = static_cast<Mem*>(ctx);
    if (gpa >= m->size || len > m->size - gpa) return lib::err(lib::Error::not_found);
    return {};  // the input is read-only; pretend
}
lib::Result<uint64_t> dev_read(void*, uint64_t gpa, uint8_t size)
{
    if (size != 1 && size != 2 && size != 4 && size != 8) abort();
    return gpa * 0x9e3779b97f4a7c15ull;
}
lib::Status dev_write(void*, uint64_t, uint8_t size, uint64_t)
{
    if (size != 1 && size != 2 && size != 4 && size != 8) abort();
    return {};
}

void check(bool c)
{
    if (!c) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1) return 0;
    const unsigned sel = data[0] & 3;
    const uint8_t* body = data + 1;
    const size_t len = size - 1;
    if (sel < 3) {
        const CpuMode mode = sel == 0 ? CpuMode::bits16 : sel == 1 ? CpuMode::bits32 : CpuMode::bits64;
        std::unique_ptr<uint8_t[]> exact(new uint8_t[len ? len : 1]);
        if (len) std::memcpy(exact.get(), body, len);
        auto r = decode(len ? exact.get() : nullptr, len, mode);
        if (!r.ok()) {
            const lib::Error e = r.error();
            check(e == lib::Error::invalid || (e == lib::Error::truncated && len < 15) ||
                  (e == lib::Error::out_of_range && len >= 15));
            return 0;
        }
        check(r->length >= 1 && r->length <= 15 && r->length <= len);
        auto again = decode(exact.get(), r->length, mode);
        check(again.ok() && again->length == r->length && again->op == r->op);
        check(decode(exact.get(), r->length - 1u, mode).error() == lib::Error::truncated);

        Mem ram{data, size};
        Regs regs;
        regs.mode = mode;
        for (unsigned i = 0; i < gpr_count; ++i) regs.gpr[i] = (i * 0x1111) & 0xffff;
        MmioEnv env;
        env.gpa = 0xfee00000;
        env.bus = MmioBus{nullptr, dev_read, dev_write};
        env.ram = GuestPhys{&ram, ram_read, ram_write, nullptr, nullptr};
        env.max_iterations = 16;
        (void)emulate_mmio(*r, regs, env);
        return 0;
    }
    // Page walk: the input is guest RAM; control registers from its head.
    if (len < 16) return 0;
    Mem ram{body, len};
    uint64_t words[2];
    std::memcpy(words, body, sizeof words);
    Paging p;
    p.cr0 = cr0::pg | (words[0] & cr0::wp);
    p.cr4 = words[0] & (cr4::pse | cr4::pae | cr4::la57 | cr4::smep | cr4::smap);
    p.efer = words[0] & (efer::lma | efer::nxe);
    p.cr3 = (words[0] >> 32) % (len + 1);
    p.maxphyaddr = static_cast<uint8_t>(words[1] & 63);
    Access a{.write = (words[1] & 64) != 0, .user = (words[1] & 128) != 0, .fetch = (words[1] & 256) != 0};
    auto t = translate(p, GuestPhys{&ram, ram_read, ram_write, nullptr, nullptr}, words[1], a);
    if (!t.ok()) check(t.error().kind != FaultKind::none && t.error().kind != FaultKind::unsupported);
    Regs regs;
    regs.rip = words[1] >> 3;
    (void)fetch_and_decode(regs, p, GuestPhys{&ram, ram_read, ram_write, nullptr, nullptr});
    return 0;
}
