// printf-style formatting into a caller's buffer; no allocation, usable in the
// kernel, in Dom0 and on the host. Checked by the compiler's format attribute.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace lib {

// Writes at most n-1 characters and a terminating NUL (when n > 0). Returns
// the length the full output would have had, like vsnprintf.
// Supported: %% %c %s %d %i %u %x %X %p %o with flags '-' '0' '+' ' ' '#',
// width, precision (also '*'), and length modifiers hh h l ll z j t.
size_t vformat(char* buf, size_t n, const char* fmt, va_list ap);
size_t format(char* buf, size_t n, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace lib
