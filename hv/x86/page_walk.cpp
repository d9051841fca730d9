// Guest page-table walker. SDM Vol. 3A chapter 4; table numbers in comments
// are from that chapter.
#include "hv/x86/page_walk.hpp"

namespace hv::x86 {

namespace {

// Paging-structure entry bits (Tables 4-4..4-6, 4-8..4-11, 4-14..4-20).
constexpr uint64_t pte_p = 1ull << 0;
constexpr uint64_t pte_rw = 1ull << 1;
constexpr uint64_t pte_us = 1ull << 2;
constexpr uint64_t pte_a = 1ull << 5;
constexpr uint64_t pte_d = 1ull << 6;
constexpr uint64_t pte_ps = 1ull << 7;
constexpr uint64_t pte_xd = 1ull << 63;

constexpr uint64_t bits(unsigned hi, unsigned lo)  // mask of bits hi:lo inclusive
{
    return (hi >= 63 ? ~0ull : ((1ull << (hi + 1)) - 1)) & ~((1ull << lo) - 1);
}

struct Level {
    uint64_t entry_gpa;
    uint64_t entry;
};

class Walker {
public:
    Walker(const Paging& p, const GuestPhys& mem, uint64_t linear, Access acc)
        : p_(p), mem_(mem), la_(linear), acc_(acc), mode_(paging_mode(p)),
          nxe_((p.efer & efer::nxe) != 0),
          maxphy_(p.maxphyaddr < 32 ? 32 : p.maxphyaddr > 52 ? 52 : p.maxphyaddr)
    {
    }

    EmuResult<Translation> run();

private:
    uint32_t base_error() const
    {
        uint32_t e = 0;
        if (acc_.write) e |= pf_error::write;
        if (acc_.user) e |= pf_error::user;
        // I/D is reported only when SMEP is on or when PAE-format entries
        // with NXE are in use (§4.7).
        if (acc_.fetch && ((p_.cr4 & cr4::smep) || (mode_ != PagingMode::bits32 && nxe_))) e |= pf_error::fetch;
        return e;
    }
    Fault not_present() const { return page_fault(base_error(), la_); }
    Fault reserved() const { return page_fault(base_error() | pf_error::present | pf_error::reserved, la_); }
    Fault protection() const { return page_fault(base_error() | pf_error::present, la_); }

    EmuResult<uint64_t> read_entry(uint64_t gpa, unsigned size)
    {
        uint64_t v = 0;
        if (!mem_.read || !mem_.read(mem_.ctx, gpa, &v, size).ok()) return bus_fault(la_);
        return v;
    }

    EmuResult<Translation> walk32();
    EmuResult<Translation> walk64();
    EmuStatus check_access(const Translation& t) const;
    void set_accessed_dirty(const Translation& t);

    const Paging& p_;
    const GuestPhys& mem_;
    uint64_t la_;
    Access acc_;
    PagingMode mode_;
    bool nxe_;
    unsigned maxphy_;
    Level levels_[5] = {};
    unsigned nlevels_ = 0;
    bool entries32_ = false;
};

// 32-bit paging (§4.3): 4-byte entries, 4K pages or, with CR4.PSE, 4M pages
// whose PDE bits 20:13 carry physical-address bits 39:32 (PSE-36, Table 4-4).
EmuResult<Translation> Walker::walk32()
{
    entries32_ = true;
    const uint64_t la = la_ & 0xffffffffull;
    const uint64_t pde_gpa = (p_.cr3 & 0xfffff000ull) + ((la >> 22) & 0x3ff) * 4;
    const uint64_t pde = TRY(read_entry(pde_gpa, 4));
    if (!(pde & pte_p)) return not_present();
    levels_[nlevels_++] = {pde_gpa, pde};
    Translation t;
    t.writable = pde & pte_rw;
    t.user = pde & pte_us;
    if ((pde & pte_ps) && (p_.cr4 & cr4::pse)) {
        const unsigned hi = maxphy_ > 40 ? 40 : maxphy_;
        if (pde & bits(21, hi - 19)) return reserved();
        const uint64_t high = ((pde >> 13) & 0xff) << 32;
        t.gpa = ((pde & 0xffc00000ull) | high) + (la & 0x3fffff);
        t.page_size = 4ull << 20;
        return t;
    }
    const uint64_t pte_gpa = (pde & 0xfffff000ull) + ((la >> 12) & 0x3ff) * 4;
    const uint64_t pte = TRY(read_entry(pte_gpa, 4));
    if (!(pte & pte_p)) return not_present();
    levels_[nlevels_++] = {pte_gpa, pte};
    t.writable = t.writable && (pte & pte_rw);
    t.user = t.user && (pte & pte_us);
    t.gpa = (pte & 0xfffff000ull) + (la & 0xfff);
    t.page_size = 4096;
    return t;
}

// PAE (§4.4), 4-level and 5-level paging (§4.5): 8-byte entries.
EmuResult<Translation> Walker::walk64()
{
    const bool pae = mode_ == PagingMode::pae;
    const uint64_t addr_mask = bits(maxphy_ - 1, 12);
    // Reserved: physical-address bits at or above MAXPHYADDR (PAE: up to bit
    // 62, §4.4.2; IA-32e: bits 51:M, bits 62:52 are ignored), and XD when
    // IA32_EFER.NXE = 0.
    uint64_t rsvd = pae ? (maxphy_ <= 62 ? bits(62, maxphy_) : 0) : (maxphy_ < 52 ? bits(51, maxphy_) : 0);
    if (!nxe_) rsvd |= pte_xd;

    uint64_t la = la_;
    unsigned shift;
    uint64_t table;
    if (pae) {
        la &= 0xffffffffull;
        // PDPTE (Table 4-8): bits 2:1, 8:5 and 63:M reserved; no R/W, U/S, XD.
        const uint64_t pdpte_gpa = (p_.cr3 & 0xffffffe0ull) + ((la >> 30) & 3) * 8;
        const uint64_t pdpte = TRY(read_entry(pdpte_gpa, 8));
        if (!(pdpte & pte_p)) return not_present();
        if (pdpte & (bits(2, 1) | bits(8, 5) | bits(63, maxphy_))) return reserved();
        table = pdpte & addr_mask;
        shift = 21;
    } else {
        // Canonical check (SDM Vol. 1 §3.3.7.1): bits 63:N-1 all equal.
        const unsigned top = mode_ == PagingMode::level5 ? 56 : 47;
        const uint64_t upper = la >> top;
        if (upper != 0 && upper != (~0ull >> top)) return gp_fault(la_);
        table = p_.cr3 & addr_mask;
        shift = mode_ == PagingMode::level5 ? 48 : 39;
    }

    Translation t;
    for (;;) {
        const uint64_t entry_gpa = table + ((la >> shift) & 0x1ff) * 8;
        const uint64_t e = TRY(read_entry(entry_gpa, 8));
        if (!(e & pte_p)) return not_present();
        levels_[nlevels_++] = {entry_gpa, e};
        if (e & rsvd) return reserved();
        t.writable = t.writable && (e & pte_rw);
        t.user = t.user && (e & pte_us);
        if (e & pte_xd) t.executable = false;
        const bool ps = (e & pte_ps) != 0;
        if (shift >= 39 && ps) return reserved();  // PML5E/PML4E bit 7 is reserved
        if (shift == 12 || (ps && (shift == 30 || shift == 21))) {
            const uint64_t size = 1ull << shift;
            // Large pages: bits between 12 (PAT) and the page size are reserved
            // (Tables 4-17 and 4-9/4-15: bits 29:13 for 1G, 20:13 for 2M).
            if (shift > 12 && (e & bits(shift - 1, 13))) return reserved();
            t.gpa = (e & addr_mask & ~(size - 1)) + (la & (size - 1));
            t.page_size = size;
            return t;
        }
        table = e & addr_mask;
        shift -= 9;
    }
}

// Access rights (§4.6).
EmuStatus Walker::check_access(const Translation& t) const
{
    const bool wp = (p_.cr0 & cr0::wp) != 0;
    if (acc_.user) {
        if (!t.user) return protection();
        if (acc_.write && !t.writable) return protection();
    } else {
        if (acc_.write && !t.writable && wp) return protection();
        if (t.user) {
            if (acc_.fetch && (p_.cr4 & cr4::smep)) return protection();
            if (!acc_.fetch && (p_.cr4 & cr4::smap) && !acc_.ac) return protection();
        }
    }
    if (acc_.fetch && !t.executable) return protection();
    return {};
}

// Accessed on every entry used, Dirty on the leaf for a write (§4.8), only
// when the caller provided an atomic update. A lost race is not retried: the
// guest's entry changed under us and its own next access sets the bits.
void Walker::set_accessed_dirty(const Translation&)
{
    for (unsigned i = 0; i < nlevels_; ++i) {
        const bool leaf = i + 1 == nlevels_;
        uint64_t want = levels_[i].entry | pte_a;
        if (leaf && acc_.write) want |= pte_d;
        if (want == levels_[i].entry) continue;
        if (entries32_) {
            if (!mem_.cmpxchg32) return;
            mem_.cmpxchg32(mem_.ctx, levels_[i].entry_gpa, static_cast<uint32_t>(levels_[i].entry),
                           static_cast<uint32_t>(want));
        } else {
            if (!mem_.cmpxchg64) return;
            mem_.cmpxchg64(mem_.ctx, levels_[i].entry_gpa, levels_[i].entry, want);
        }
    }
}

EmuResult<Translation> Walker::run()
{
    if (mode_ == PagingMode::none) {
        Translation t;
        t.gpa = la_ & 0xffffffffull;
        t.page_size = 1ull << 32;
        return t;
    }
    EmuResult<Translation> r = mode_ == PagingMode::bits32 ? walk32() : walk64();
    if (!r) return r;
    if (!nxe_ || mode_ == PagingMode::bits32) r->executable = true;
    TRY(check_access(*r));
    set_accessed_dirty(*r);
    return r;
}

}  // namespace

PagingMode paging_mode(const Paging& p)
{
    if (!(p.cr0 & cr0::pg)) return PagingMode::none;
    if (!(p.cr4 & cr4::pae)) return PagingMode::bits32;
    if (!(p.efer & efer::lma)) return PagingMode::pae;
    return (p.cr4 & cr4::la57) ? PagingMode::level5 : PagingMode::level4;
}

EmuResult<Translation> translate(const Paging& paging, const GuestPhys& mem, uint64_t linear, Access access)
{
    Walker w(paging, mem, linear, access);
    return w.run();
}

}  // namespace hv::x86
