#include "hv/log_ring.hpp"

namespace hv {

void LogRing::push_byte(char c)
{
    buf_[tail_ % cap_] = c;
    ++tail_;
}

void LogRing::drop_oldest_line()
{
    while (head_ < tail_) {
        char c = buf_[head_ % cap_];
        ++head_;
        if (c == '\n') break;
    }
    ++first_seq_;
}

void LogRing::append(lib::LogLevel level, const char* line)
{
    if (cap_ < 4) return;
    size_t len = 0;
    while (line[len]) ++len;
    size_t max_text = cap_ - 2;  // level digit + newline
    if (len > max_text) len = max_text;
    size_t need = len + 2;
    while (cap_ - used() < need) drop_oldest_line();
    push_byte(static_cast<char>('0' + static_cast<int>(level)));
    for (size_t i = 0; i < len; ++i) push_byte(line[i] == '\n' ? ' ' : line[i]);
    push_byte('\n');
    ++next_seq_;
}

uint64_t LogRing::read(uint64_t from_seq, char* out, size_t out_cap, size_t* out_len) const
{
    size_t n = 0;
    uint64_t seq = first_seq_;
    uint64_t pos = head_;
    // Skip to from_seq.
    while (seq < from_seq && pos < tail_) {
        if (buf_[pos % cap_] == '\n') ++seq;
        ++pos;
    }
    // Copy whole lines while they fit (leaving room for the NUL).
    while (pos < tail_) {
        uint64_t end = pos;
        while (end < tail_ && buf_[end % cap_] != '\n') ++end;
        size_t line_len = static_cast<size_t>(end - pos) + 1;
        if (out_cap == 0 || n + line_len > out_cap - 1) break;
        for (uint64_t p = pos; p <= end; ++p) out[n++] = buf_[p % cap_];
        pos = end + 1;
        ++seq;
    }
    if (out_cap) out[n] = '\0';
    if (out_len) *out_len = n;
    return seq;
}

}  // namespace hv
