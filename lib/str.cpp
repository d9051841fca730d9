#include "lib/str.hpp"

namespace lib {

Result<uint64_t> parse_u64(StrView s)
{
    if (s.empty()) return err(Error::invalid);
    unsigned base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s = s.substr(2);
    }
    uint64_t v = 0;
    for (char c : s) {
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return err(Error::invalid);
        if (v > (UINT64_MAX - d) / base) return err(Error::out_of_range);
        v = v * base + d;
    }
    return v;
}

Result<uint64_t> parse_size(StrView s)
{
    if (s.empty()) return err(Error::invalid);
    unsigned shift = 0;
    switch (s[s.size() - 1]) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
    }
    if (shift) s = s.substr(0, s.size() - 1);
    uint64_t v = TRY(parse_u64(s));
    if (shift && v > (UINT64_MAX >> shift)) return err(Error::out_of_range);
    return v << shift;
}

size_t copy_cstr(char* dst, size_t cap, StrView src)
{
    if (cap == 0) return 0;
    size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
    dst[n] = '\0';
    return n;
}

}  // namespace lib
