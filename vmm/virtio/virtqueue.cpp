#include "vmm/virtio/virtqueue.hpp"

namespace vmm::virtio {
namespace {

// Explicit little-endian accessors for guest-shared memory. Plain fields
// are copied out byte-wise (one read, then only the local is used); the two
// ring indices are naturally aligned (enable() checks the ring alignment)
// and go through atomics so the compiler reads and writes them exactly once
// with acquire/release ordering (2.7.13: the driver publishes ring entries
// before idx, and 2.7.8 the device does the same for used entries).
inline uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
inline uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32; }
inline void put_le16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void put_le32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i)); }

inline uint16_t to_le16(uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap16(v);
#else
    return v;
#endif
}
inline uint16_t load_idx(const uint8_t* p)
{
    return to_le16(__atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE));
}
inline void store_idx(uint8_t* p, uint16_t v)
{
    __atomic_store_n(reinterpret_cast<uint16_t*>(p), to_le16(v), __ATOMIC_RELEASE);
}

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

inline Desc read_desc(const uint8_t* table, unsigned i)
{
    uint8_t b[sizeof(VirtqDesc)];
    __builtin_memcpy(b, table + i * sizeof(VirtqDesc), sizeof b);
    return {le64(b), le32(b + 8), le16(b + 12), le16(b + 14)};
}

constexpr bool pow2(unsigned v) { return v && !(v & (v - 1)); }

}  // namespace

size_t Chain::read(uint64_t from, void* dst, size_t len) const
{
    auto* out = static_cast<uint8_t*>(dst);
    size_t done = 0;
    uint64_t pos = 0;
    for (unsigned i = 0; i < count && done < len; ++i) {
        const Segment& s = seg[i];
        if (s.writable) break;  // readable segments come first
        if (from < pos + s.len) {
            const uint64_t skip = from > pos ? from - pos : 0;
            size_t n = size_t(s.len - skip);
            if (n > len - done) n = len - done;
            __builtin_memcpy(out + done, s.host + skip, n);
            done += n;
            from += n;
        }
        pos += s.len;
    }
    return done;
}

size_t Chain::write(uint64_t at, const void* src, size_t len) const
{
    const auto* in = static_cast<const uint8_t*>(src);
    size_t done = 0;
    uint64_t pos = 0;
    for (unsigned i = 0; i < count && done < len; ++i) {
        const Segment& s = seg[i];
        if (!s.writable) continue;
        if (at < pos + s.len) {
            const uint64_t skip = at > pos ? at - pos : 0;
            size_t n = size_t(s.len - skip);
            if (n > len - done) n = len - done;
            __builtin_memcpy(s.host + skip, in + done, n);
            done += n;
            at += n;
        }
        pos += s.len;
    }
    return done;
}

lib::Status Virtqueue::enable(GuestRam& ram, const Layout& l, bool event_idx, bool indirect)
{
    // 2.7: split queue sizes are powers of two up to 32768; the alignment
    // of the three parts is 16, 2 and 4 bytes.
    if (!pow2(l.size) || l.size > max_size) return lib::err(lib::Error::invalid);
    if ((l.desc & 15) || (l.avail & 1) || (l.used & 3)) return lib::err(lib::Error::invalid);
    uint8_t* d = ram.span(l.desc, desc_table_bytes(l.size));
    uint8_t* a = ram.span(l.avail, avail_ring_bytes(l.size));
    uint8_t* u = ram.span(l.used, used_ring_bytes(l.size));
    if (!d || !a || !u) return lib::err(lib::Error::out_of_range);
    reset();
    ram_ = &ram;
    desc_ = d;
    avail_ = a;
    used_ = u;
    size_ = l.size;
    event_idx_ = event_idx;
    indirect_ = indirect;
    enabled_ = true;
    // The used ring is device-owned: start it clean (the driver zeroes it
    // too, but must not be trusted to). avail_event asks for a kick at the
    // first buffer.
    store_idx(used_ + 2, 0);
    put_le16(used_, 0);
    put_le16(used_ + 4 + 8 * size_, 0);
    return {};
}

void Virtqueue::reset()
{
    ram_ = nullptr;
    desc_ = avail_ = used_ = nullptr;
    size_ = last_avail_ = used_idx_ = signalled_used_ = 0;
    enabled_ = event_idx_ = indirect_ = false;
    notify_enabled_ = true;
    fault_ = Fault::none;
    in_flight_ = 0;
    for (auto& w : inflight_) w = 0;
}

lib::Status Virtqueue::fail(Fault f, lib::Error e)
{
    set_broken(f);
    return lib::err(e);
}

uint16_t Virtqueue::avail_idx() const { return load_idx(avail_ + 2); }

lib::Status Virtqueue::add(Chain& out, uint64_t addr, uint32_t len, uint16_t flags)
{
    // QEMU and Linux never make zero-length buffers and nothing in a
    // transfer needs one: treat it as a malformed chain.
    if (len == 0) return fail(Fault::zero_len);
    const bool w = flags & desc_f_write;
    if (!w && out.writable) return fail(Fault::write_then_read);
    if (out.count == Chain::max_segments) return fail(Fault::too_many_segments, lib::Error::unsupported);
    if (out.readable + out.writable + len > (1ull << 32)) return fail(Fault::too_long);
    uint8_t* host = ram_->span(addr, len);
    if (!host) return fail(Fault::not_ram, lib::Error::out_of_range);
    out.seg[out.count++] = {host, addr, len, w};
    (w ? out.writable : out.readable) += len;
    return {};
}

lib::Status Virtqueue::walk(uint16_t head, Chain& out)
{
    out.head = head;
    out.count = 0;
    out.readable = out.writable = 0;
    uint16_t i = head;
    // A chain has at most `size` descriptors (2.7.5.2: loops are
    // forbidden); counting them is the loop check.
    for (unsigned seen = 1;; ++seen) {
        if (seen > size_) return fail(Fault::loop);
        const Desc d = read_desc(desc_, i);
        if (d.flags & desc_f_indirect) {
            // 2.7.5.3: zero or more direct descriptors may precede one
            // indirect descriptor, which ends the chain (INDIRECT with NEXT is
            // forbidden by 2.7.5.3.1); its WRITE flag is ignored.
            if (!indirect_) return fail(Fault::indirect_unneg);
            if (d.flags & desc_f_next) return fail(Fault::indirect_next);
            if (d.len == 0 || d.len % sizeof(VirtqDesc)) return fail(Fault::indirect_len);
            const uint8_t* table = ram_->span(d.addr, d.len);
            if (!table) return fail(Fault::not_ram, lib::Error::out_of_range);
            const uint32_t n = d.len / sizeof(VirtqDesc);
            uint32_t j = 0;
            for (uint32_t k = 1;; ++k) {
                if (k > n) return fail(Fault::loop);
                const Desc e = read_desc(table, j);
                if (e.flags & desc_f_indirect) return fail(Fault::indirect_nested);
                TRY(add(out, e.addr, e.len, e.flags));
                if (!(e.flags & desc_f_next)) return {};
                if (e.next >= n) return fail(Fault::next_range);
                j = e.next;
            }
        }
        TRY(add(out, d.addr, d.len, d.flags));
        if (!(d.flags & desc_f_next)) return {};
        if (d.next >= size_) return fail(Fault::next_range);
        i = d.next;
    }
}

lib::Result<bool> Virtqueue::pop(Chain& out)
{
    if (!enabled_) return lib::err(lib::Error::invalid);
    if (broken()) return lib::err(lib::Error::invalid);
    const uint16_t idx = avail_idx();  // the one read of avail->idx
    const uint16_t pending = uint16_t(idx - last_avail_);
    if (pending == 0) return false;
    // The driver can have at most `size` buffers outstanding (2.7.6).
    if (pending > size_) {
        set_broken(Fault::avail_idx);
        return lib::err(lib::Error::invalid);
    }
    const uint16_t head = le16(avail_ + 4 + 2 * (last_avail_ & (size_ - 1)));
    if (head >= size_) {
        set_broken(Fault::head_range);
        return lib::err(lib::Error::invalid);
    }
    if (is_in_flight(head)) {
        set_broken(Fault::head_in_use);
        return lib::err(lib::Error::invalid);
    }
    auto st = walk(head, out);
    if (!st) return lib::err(st.error());
    ++last_avail_;
    inflight_[head / 64] |= 1ull << (head % 64);
    ++in_flight_;
    // 2.7.10: with EVENT_IDX, avail_event tells the driver the next avail
    // index after which it should kick us.
    if (event_idx_ && notify_enabled_) put_le16(used_ + 4 + 8 * size_, last_avail_);
    return true;
}

lib::Status Virtqueue::push(uint16_t head, uint32_t written)
{
    if (!enabled_ || broken()) return lib::err(lib::Error::invalid);
    if (head >= size_ || !is_in_flight(head)) return lib::err(lib::Error::invalid);
    uint8_t* e = used_ + 4 + 8 * (used_idx_ & (size_ - 1));
    put_le32(e, head);
    put_le32(e + 4, written);
    ++used_idx_;
    store_idx(used_ + 2, used_idx_);  // release: the element is visible first
    inflight_[head / 64] &= ~(1ull << (head % 64));
    --in_flight_;
    return {};
}

lib::Status Virtqueue::unpop(uint16_t head)
{
    if (!enabled_ || broken()) return lib::err(lib::Error::invalid);
    if (head >= size_ || !is_in_flight(head) || in_flight_ == 0) return lib::err(lib::Error::invalid);
    // The driver cannot have reused the ring slot: the chain was never
    // returned, so its slot is still among the outstanding ones (2.7.6).
    --last_avail_;
    inflight_[head / 64] &= ~(1ull << (head % 64));
    --in_flight_;
    return {};
}

bool Virtqueue::should_interrupt()
{
    if (!enabled_) return false;
    // The used index store must be visible before the driver's suppression
    // state is read, or both sides can miss each other (store-load order:
    // a full fence on x86).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    // old_idx is where used->idx stood at the previous decision (0 at
    // enable), so [old_idx, new_idx) are the entries not yet considered.
    const uint16_t old_idx = signalled_used_, new_idx = used_idx_;
    signalled_used_ = new_idx;
    if (old_idx == new_idx) return false;
    if (event_idx_) {
        // 2.7.7: with EVENT_IDX, used_event (after the avail ring) is the
        // used index the driver wants an interrupt after.
        const uint16_t used_event = le16(avail_ + 4 + 2 * size_);
        return need_event(used_event, new_idx, old_idx);
    }
    // Without EVENT_IDX the driver's flags field asks (a hint, 2.7.7).
    return !(le16(avail_) & avail_f_no_interrupt);
}

void Virtqueue::disable_notify()
{
    if (!enabled_) return;
    notify_enabled_ = false;
    // With EVENT_IDX, leaving avail_event behind is the suppression.
    if (!event_idx_) put_le16(used_, used_f_no_notify);
}

bool Virtqueue::enable_notify()
{
    if (!enabled_) return false;
    notify_enabled_ = true;
    if (event_idx_) put_le16(used_ + 4 + 8 * size_, last_avail_);
    else put_le16(used_, 0);
    // Re-check after publishing, so a buffer added just before the driver
    // saw the new suppression state is not left unprocessed.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return !broken() && avail_idx() != last_avail_;
}

}  // namespace vmm::virtio
