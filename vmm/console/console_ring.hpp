// The output of one guest console, kept from its first byte so that an
// `xl console` attached late still sees the whole boot: the first head_size
// bytes the guest ever printed (firmware banner, kernel command line, early
// errors) are kept forever, and the rest of the owner's buffer holds the most
// recent bytes. When a guest prints more than fits, the middle is dropped and
// readers are told exactly how much; writes never block and never fail.
//
// Every byte the guest printed has a sequence number: the first is 0, the
// next byte to be written is total_written(). Bytes [0, head_len()) are in
// the head, [tail_start(), total_written()) in the tail, and the bytes in
// between, dropped() of them, are gone. A reader keeps a cursor (the sequence
// number of the next byte it wants) and reads from there.
//
// Not synchronised: one writer, and readers serialised with it by the owner.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/str.hpp"

namespace vmm::console {

struct ConsoleRead {
    size_t len;       // bytes copied into the caller's buffer
    uint64_t missed;  // dropped bytes stepped over at the cursor (0 if none)
    uint64_t next;    // cursor for the next read
};

class ConsoleRing {
public:
    // Longest drop marker read_text() inserts: "\n[... N bytes dropped ...]\n"
    // with N up to 20 digits.
    static constexpr size_t max_marker_len = 48;

    // `storage` (capacity bytes, owned by the caller) holds the head region of
    // head_size bytes (clamped to capacity) and the tail in the rest.
    ConsoleRing(char* storage, size_t capacity, size_t head_size);

    void write(const char* bytes, size_t len);
    void write(lib::StrView s) { write(s.data(), s.size()); }

    // Raw bytes from `cursor`. A cursor in the dropped range moves to
    // tail_start() and `missed` says by how much; copying stops before the
    // next dropped range, so a gap is only ever at the start of a result and
    // the next read reports it. A cursor past total_written() is taken as
    // total_written(): nothing is copied, nothing counted as missed.
    ConsoleRead read(uint64_t cursor, char* out, size_t cap) const;

    // Text for a console: like read(), but each dropped range becomes a
    // marker line "\n[... N bytes dropped ...]\n" and copying goes on past it.
    // A marker is written whole or not at all: with cap < max_marker_len a
    // read at a gap may return nothing (len 0, next == cursor).
    ConsoleRead read_text(uint64_t cursor, char* out, size_t cap) const;

    // For a console just attached: everything from the guest's first byte.
    // Call again with read_text(result.next, ...) until next reaches
    // total_written().
    ConsoleRead replay(char* out, size_t cap) const { return read_text(0, out, cap); }

    uint64_t total_written() const { return total_; }
    uint64_t head_len() const { return total_ < head_cap_ ? total_ : head_cap_; }
    uint64_t tail_start() const;
    uint64_t dropped() const { return tail_start() - head_len(); }
    size_t capacity() const { return cap_; }
    size_t head_size() const { return head_cap_; }

    // The marker read_text() writes for `n` dropped bytes, into out (cap >=
    // max_marker_len); returns its length.
    static size_t format_marker(uint64_t n, char* out, size_t cap);

private:
    // Copies bytes [seq, seq + n) that are held (head or tail) into out.
    void copy_out(uint64_t seq, char* out, size_t n) const;
    // Bytes held contiguously from `seq` (head_len() <= seq < tail_start()
    // gives 0): up to the end of the head or the end of the data.
    uint64_t run_from(uint64_t seq) const;

    char* buf_;
    size_t cap_;
    size_t head_cap_;
    size_t tail_cap_;
    uint64_t total_ = 0;
};

}  // namespace vmm::console
