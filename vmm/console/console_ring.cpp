// Guest console ring: head region at storage[0, head_cap_), tail ring in
// storage[head_cap_, cap_) where the tail byte with sequence number s lives at
// head_cap_ + (s - head_cap_) % tail_cap_.
#include "vmm/console/console_ring.hpp"

#include "lib/format.hpp"

namespace vmm::console {

namespace {
template <typename T> T min(T a, T b) { return a < b ? a : b; }
}  // namespace

ConsoleRing::ConsoleRing(char* storage, size_t capacity, size_t head_size)
    : buf_(storage), cap_(capacity), head_cap_(min(head_size, capacity)), tail_cap_(capacity - head_cap_)
{
}

uint64_t ConsoleRing::tail_start() const
{
    if (total_ <= head_cap_) return total_;
    // Past the head: the tail holds the last tail_cap_ bytes, or all of them
    // while fewer than that were written after the head.
    if (total_ - head_cap_ <= tail_cap_) return head_cap_;
    return total_ - tail_cap_;
}

void ConsoleRing::write(const char* bytes, size_t len)
{
    if (len == 0) return;  // `bytes` may be null then
    uint64_t seq = total_;
    total_ += len;
    if (seq < head_cap_) {
        size_t k = min<uint64_t>(len, head_cap_ - seq);
        __builtin_memcpy(buf_ + seq, bytes, k);
        seq += k;
        bytes += k;
        len -= k;
    }
    if (len == 0 || tail_cap_ == 0) return;
    if (len > tail_cap_) {  // only the last tail_cap_ bytes can survive
        size_t skip = len - tail_cap_;
        seq += skip;
        bytes += skip;
        len = tail_cap_;
    }
    size_t pos = static_cast<size_t>((seq - head_cap_) % tail_cap_);
    size_t first = min(len, tail_cap_ - pos);
    __builtin_memcpy(buf_ + head_cap_ + pos, bytes, first);
    __builtin_memcpy(buf_ + head_cap_, bytes + first, len - first);
}

void ConsoleRing::copy_out(uint64_t seq, char* out, size_t n) const
{
    if (n == 0) return;  // `out` may be null then
    if (seq < head_cap_) {
        size_t k = min<uint64_t>(n, head_cap_ - seq);
        __builtin_memcpy(out, buf_ + seq, k);
        seq += k;
        out += k;
        n -= k;
    }
    if (n == 0) return;
    size_t pos = static_cast<size_t>((seq - head_cap_) % tail_cap_);
    size_t first = min(n, tail_cap_ - pos);
    __builtin_memcpy(out, buf_ + head_cap_ + pos, first);
    __builtin_memcpy(out + first, buf_ + head_cap_, n - first);
}

uint64_t ConsoleRing::run_from(uint64_t seq) const
{
    uint64_t hl = head_len(), ts = tail_start();
    if (seq < hl) return (ts == hl ? total_ : hl) - seq;
    if (seq < ts) return 0;
    return total_ - seq;
}

ConsoleRead ConsoleRing::read(uint64_t cursor, char* out, size_t cap) const
{
    ConsoleRead r{0, 0, min(cursor, total_)};
    uint64_t hl = head_len(), ts = tail_start();
    if (r.next >= hl && r.next < ts) {
        r.missed = ts - r.next;
        r.next = ts;
    }
    r.len = static_cast<size_t>(min<uint64_t>(run_from(r.next), cap));
    copy_out(r.next, out, r.len);
    r.next += r.len;
    return r;
}

ConsoleRead ConsoleRing::read_text(uint64_t cursor, char* out, size_t cap) const
{
    ConsoleRead r{0, 0, min(cursor, total_)};
    uint64_t hl = head_len(), ts = tail_start();
    while (r.len < cap && r.next < total_) {
        if (r.next >= hl && r.next < ts) {
            char marker[max_marker_len];
            size_t m = format_marker(ts - r.next, marker, sizeof marker);
            if (m > cap - r.len) break;
            __builtin_memcpy(out + r.len, marker, m);
            r.len += m;
            r.missed += ts - r.next;
            r.next = ts;
            continue;
        }
        size_t n = static_cast<size_t>(min<uint64_t>(run_from(r.next), cap - r.len));
        copy_out(r.next, out + r.len, n);
        r.len += n;
        r.next += n;
    }
    return r;
}

size_t ConsoleRing::format_marker(uint64_t n, char* out, size_t cap)
{
    size_t len = lib::format(out, cap, "\n[... %llu byte%s dropped ...]\n", static_cast<unsigned long long>(n),
                             n == 1 ? "" : "s");
    return len < cap ? len : (cap ? cap - 1 : 0);
}

}  // namespace vmm::console
