#include "lib/format.hpp"

#include <cstdint>

namespace lib {
namespace {

struct Out {
    char* buf;
    size_t cap;
    size_t len = 0;
    void put(char c)
    {
        if (len + 1 < cap) buf[len] = c;
        ++len;
    }
    void repeat(char c, int count)
    {
        for (int i = 0; i < count; ++i) put(c);
    }
};

struct Spec {
    bool left = false, zero = false, plus = false, space = false, alt = false;
    int width = 0;
    int precision = -1;
};

void emit_number(Out& o, const Spec& s, uint64_t mag, bool negative, unsigned base, bool upper,
                 const char* prefix)
{
    char digits[24];
    int nd = 0;
    const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[nd++] = set[mag % base];
        mag /= base;
    } while (mag != 0);
    int precision_pad = s.precision > nd ? s.precision - nd : 0;
    char sign = negative ? '-' : s.plus ? '+' : s.space ? ' ' : 0;
    int prefix_len = 0;
    while (prefix && prefix[prefix_len]) ++prefix_len;
    int body = nd + precision_pad + (sign ? 1 : 0) + prefix_len;
    int pad = s.width > body ? s.width - body : 0;
    bool zero_pad = s.zero && !s.left && s.precision < 0;
    if (!s.left && !zero_pad) o.repeat(' ', pad);
    if (sign) o.put(sign);
    for (int i = 0; i < prefix_len; ++i) o.put(prefix[i]);
    if (zero_pad) o.repeat('0', pad);
    o.repeat('0', precision_pad);
    while (nd > 0) o.put(digits[--nd]);
    if (s.left) o.repeat(' ', pad);
}

}  // namespace

size_t vformat(char* buf, size_t n, const char* fmt, va_list ap)
{
    Out o{buf, n};
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            o.put(*p);
            continue;
        }
        ++p;
        Spec s;
        for (;; ++p) {
            if (*p == '-') s.left = true;
            else if (*p == '0') s.zero = true;
            else if (*p == '+') s.plus = true;
            else if (*p == ' ') s.space = true;
            else if (*p == '#') s.alt = true;
            else break;
        }
        if (*p == '*') {
            s.width = va_arg(ap, int);
            if (s.width < 0) {
                s.left = true;
                s.width = -s.width;
            }
            ++p;
        } else {
            while (*p >= '0' && *p <= '9') s.width = s.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            ++p;
            s.precision = 0;
            if (*p == '*') {
                s.precision = va_arg(ap, int);
                ++p;
            } else {
                while (*p >= '0' && *p <= '9') s.precision = s.precision * 10 + (*p++ - '0');
            }
        }
        int longs = 0;  // -2 hh, -1 h, 0 int, 1 long, 2 long long / size_t / intmax
        for (;; ++p) {
            if (*p == 'l') ++longs;
            else if (*p == 'h') --longs;
            else if (*p == 'z' || *p == 'j' || *p == 't') longs = 2;
            else break;
        }
        auto get_signed = [&]() -> int64_t {
            if (longs >= 1) return longs == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            int v = va_arg(ap, int);
            if (longs == -1) return static_cast<short>(v);
            if (longs == -2) return static_cast<signed char>(v);
            return v;
        };
        auto get_unsigned = [&]() -> uint64_t {
            if (longs >= 1) return longs == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long);
            unsigned v = va_arg(ap, unsigned);
            if (longs == -1) return static_cast<unsigned short>(v);
            if (longs == -2) return static_cast<unsigned char>(v);
            return v;
        };
        switch (*p) {
        case '%': o.put('%'); break;
        case 'c': {
            int pad = s.width > 1 ? s.width - 1 : 0;
            if (!s.left) o.repeat(' ', pad);
            o.put(static_cast<char>(va_arg(ap, int)));
            if (s.left) o.repeat(' ', pad);
            break;
        }
        case 's': {
            const char* str = va_arg(ap, const char*);
            if (!str) str = "(null)";
            int len = 0;
            while (str[len] && (s.precision < 0 || len < s.precision)) ++len;
            int pad = s.width > len ? s.width - len : 0;
            if (!s.left) o.repeat(' ', pad);
            for (int i = 0; i < len; ++i) o.put(str[i]);
            if (s.left) o.repeat(' ', pad);
            break;
        }
        case 'd':
        case 'i': {
            int64_t v = get_signed();
            uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
            emit_number(o, s, mag, v < 0, 10, false, nullptr);
            break;
        }
        case 'u': emit_number(o, s, get_unsigned(), false, 10, false, nullptr); break;
        case 'o': emit_number(o, s, get_unsigned(), false, 8, false, nullptr); break;
        case 'x': emit_number(o, s, get_unsigned(), false, 16, false, s.alt ? "0x" : nullptr); break;
        case 'X': emit_number(o, s, get_unsigned(), false, 16, true, s.alt ? "0X" : nullptr); break;
        case 'p': {
            auto v = reinterpret_cast<uintptr_t>(va_arg(ap, void*));
            emit_number(o, s, v, false, 16, false, "0x");
            break;
        }
        case '\0': --p; break;  // dangling '%' at the end: print nothing
        default:
            o.put('%');
            o.put(*p);
            break;
        }
    }
    if (n > 0) buf[o.len < n ? o.len : n - 1] = '\0';
    return o.len;
}

size_t format(char* buf, size_t n, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t r = vformat(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

}  // namespace lib
