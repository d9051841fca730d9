// Errors as values: a small error enum shared by the whole code base and a
// [[nodiscard]] Result<T, E> with a TRY macro. No exceptions anywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace lib {

enum class Error : uint8_t {
    none = 0,
    invalid,        // malformed input
    truncated,      // input shorter than its own length fields claim
    bad_checksum,   // checksum or signature mismatch
    unsupported,    // well-formed but not something we implement
    no_memory,      // allocator exhausted
    not_found,
    exists,
    out_of_range,
    busy,
    io,             // device or file I/O failed
    denied,         // rights check failed
    corrupt,        // on-disk or in-memory metadata inconsistent
};

constexpr const char* error_name(Error e)
{
    switch (e) {
    case Error::none: return "none";
    case Error::invalid: return "invalid";
    case Error::truncated: return "truncated";
    case Error::bad_checksum: return "bad checksum";
    case Error::unsupported: return "unsupported";
    case Error::no_memory: return "out of memory";
    case Error::not_found: return "not found";
    case Error::exists: return "exists";
    case Error::out_of_range: return "out of range";
    case Error::busy: return "busy";
    case Error::io: return "I/O error";
    case Error::denied: return "permission denied";
    case Error::corrupt: return "corrupt";
    }
    return "unknown error";
}

// Tag so that `return lib::err(Error::invalid);` reads well and converts into
// any Result<T, Error>.
template <typename E> struct Unexpected {
    E error;
};
template <typename E> constexpr Unexpected<E> err(E e) { return {e}; }

template <typename T, typename E = Error> class [[nodiscard]] Result {
public:
    constexpr Result(const T& v) : ok_(true) { new (&storage_.value) T(v); }
    constexpr Result(T&& v) : ok_(true) { new (&storage_.value) T(std::move(v)); }
    constexpr Result(E e) : ok_(false) { storage_.error = e; }
    template <typename F> constexpr Result(Unexpected<F> u) : ok_(false) { storage_.error = E(u.error); }
    Result(const Result& o) : ok_(o.ok_)
    {
        if (ok_) new (&storage_.value) T(o.storage_.value);
        else storage_.error = o.storage_.error;
    }
    Result(Result&& o) : ok_(o.ok_)
    {
        if (ok_) new (&storage_.value) T(std::move(o.storage_.value));
        else storage_.error = o.storage_.error;
    }
    Result& operator=(const Result&) = delete;
    ~Result()
    {
        if (ok_) storage_.value.~T();
    }

    constexpr bool ok() const { return ok_; }
    constexpr explicit operator bool() const { return ok_; }
    constexpr E error() const { return ok_ ? E{} : storage_.error; }
    constexpr T& value() & { return storage_.value; }
    constexpr const T& value() const& { return storage_.value; }
    constexpr T&& value() && { return std::move(storage_.value); }
    constexpr T value_or(T fallback) const { return ok_ ? storage_.value : fallback; }
    constexpr T* operator->() { return &storage_.value; }
    constexpr const T* operator->() const { return &storage_.value; }
    constexpr T& operator*() { return storage_.value; }
    constexpr const T& operator*() const { return storage_.value; }

private:
    union Storage {
        Storage() {}
        ~Storage() {}
        T value;
        E error;
    } storage_;
    bool ok_;
};

template <typename E> class [[nodiscard]] Result<void, E> {
public:
    constexpr Result() : error_(E{}), ok_(true) {}
    constexpr Result(E e) : error_(e), ok_(e == E{}) {}
    template <typename F> constexpr Result(Unexpected<F> u) : error_(E(u.error)), ok_(false) {}
    constexpr bool ok() const { return ok_; }
    constexpr explicit operator bool() const { return ok_; }
    constexpr E error() const { return error_; }
    constexpr void value() const {}

private:
    E error_;
    bool ok_;
};

using Status = Result<void, Error>;

}  // namespace lib

// TRY(expr): evaluate a Result; on error return the error from the enclosing
// function, otherwise yield the value. GNU statement expression.
#define TRY(expr)                                                   \
    ({                                                              \
        auto&& hv_try_result_ = (expr);                             \
        if (!hv_try_result_.ok()) return ::lib::err(hv_try_result_.error()); \
        std::move(hv_try_result_).value();                          \
    })
