// A non-owning string view for freestanding code (std::string_view's throwing
// members are unusable without exceptions), plus number parsing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace lib {

class StrView {
public:
    constexpr StrView() = default;
    constexpr StrView(const char* s, size_t n) : data_(s), size_(n) {}
    constexpr StrView(const char* s) : data_(s), size_(0)
    {
        if (s)
            while (s[size_]) ++size_;
    }

    constexpr const char* data() const { return data_; }
    constexpr size_t size() const { return size_; }
    constexpr bool empty() const { return size_ == 0; }
    constexpr char operator[](size_t i) const { return data_[i]; }
    constexpr const char* begin() const { return data_; }
    constexpr const char* end() const { return data_ + size_; }

    constexpr bool operator==(StrView o) const
    {
        if (size_ != o.size_) return false;
        for (size_t i = 0; i < size_; ++i)
            if (data_[i] != o.data_[i]) return false;
        return true;
    }
    constexpr bool starts_with(StrView p) const { return p.size_ <= size_ && StrView(data_, p.size_) == p; }
    constexpr bool ends_with(StrView p) const
    {
        return p.size_ <= size_ && StrView(data_ + size_ - p.size_, p.size_) == p;
    }
    static constexpr size_t npos = static_cast<size_t>(-1);
    constexpr size_t find(char c, size_t from = 0) const
    {
        for (size_t i = from; i < size_; ++i)
            if (data_[i] == c) return i;
        return npos;
    }
    // Clamping substring: never reads out of bounds.
    constexpr StrView substr(size_t pos, size_t n = npos) const
    {
        if (pos > size_) pos = size_;
        if (n > size_ - pos) n = size_ - pos;
        return {data_ + pos, n};
    }
    constexpr StrView trim() const
    {
        size_t b = 0, e = size_;
        while (b < e && is_space(data_[b])) ++b;
        while (e > b && is_space(data_[e - 1])) --e;
        return {data_ + b, e - b};
    }
    // Splits at the first `sep`: returns the part before, leaves the rest in
    // *this (empty if no separator was found).
    constexpr StrView split_first(char sep)
    {
        size_t i = find(sep);
        StrView head = substr(0, i);
        *this = i == npos ? StrView(data_ + size_, 0) : substr(i + 1);
        return head;
    }
    static constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

private:
    const char* data_ = nullptr;
    size_t size_ = 0;
};

// Parses an unsigned integer: decimal, or hex with 0x. Whole string must be
// consumed. Overflow is an error.
Result<uint64_t> parse_u64(StrView s);
// Like parse_u64 but accepts a K/M/G/T suffix (binary multiples), as Xen's
// dom0_mem= and xl's memory sizes do.
Result<uint64_t> parse_size(StrView s);

// Copies at most cap-1 bytes and NUL-terminates. Returns bytes copied.
size_t copy_cstr(char* dst, size_t cap, StrView src);

}  // namespace lib
