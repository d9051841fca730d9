#include "hv/x86/fetch.hpp"

#include "hv/x86/address.hpp"
#include "hv/x86/decoder.hpp"

namespace hv::x86 {

namespace {

struct FetchState {
    size_t n = 0;
    Fault stop;  // why fetching stopped early (none: 15 bytes read)
};

FetchState fetch(const Regs& regs, const Paging& paging, const GuestPhys& mem, uint8_t* buf)
{
    FetchState st;
    const uint64_t la = rip_linear_address(regs);
    const Access acc{.write = false, .user = regs.cpl == 3, .fetch = true, .ac = false};
    while (st.n < max_insn_length) {
        uint64_t at = la + st.n;
        if (regs.mode != CpuMode::bits64) at &= 0xffffffffull;
        auto t = translate(paging, mem, at, acc);
        if (!t) {
            st.stop = t.error();
            return st;
        }
        size_t chunk = 0x1000 - (at & 0xfff);
        if (chunk > max_insn_length - st.n) chunk = max_insn_length - st.n;
        if (!mem.read || !mem.read(mem.ctx, t->gpa, buf + st.n, chunk).ok()) {
            st.stop = bus_fault(at);
            return st;
        }
        st.n += chunk;
    }
    return st;
}

}  // namespace

EmuResult<size_t> fetch_insn_bytes(const Regs& regs, const Paging& paging, const GuestPhys& mem, uint8_t* buf)
{
    FetchState st = fetch(regs, paging, mem, buf);
    if (st.n == 0) return st.stop;
    return st.n;
}

EmuResult<Insn> fetch_and_decode(const Regs& regs, const Paging& paging, const GuestPhys& mem)
{
    uint8_t buf[max_insn_length] = {};
    FetchState st = fetch(regs, paging, mem, buf);
    if (st.n == 0) return st.stop;
    auto r = decode(buf, st.n, regs.mode);
    if (r) return r.value();
    switch (r.error()) {
    case lib::Error::truncated: return st.stop;  // the instruction runs into the page that failed
    case lib::Error::out_of_range: return gp_fault(rip_linear_address(regs));
    default: return unsupported_fault();
    }
}

}  // namespace hv::x86
