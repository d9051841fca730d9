// Reader for cpio "newc" archives (magic 070701, and 070702 which adds a
// checksum of each regular file's data): the archive Dom0 receives as a
// Multiboot module, holding its xl.cfg files, guest kernels and initrds. The
// same format as a Linux initramfs, read the way the kernel unpacks one.
//
// Layout of one entry: a 110-byte ASCII header (6-byte magic, then 13 fields
// of 8 hex digits), the name (namesize bytes including its NUL) padded so the
// data starts at a multiple of 4 from the buffer start, then the data padded
// to 4 the same way. The entry named "TRAILER!!!" ends an archive. As in the
// kernel, zero bytes after a trailer are padding, and another archive may
// follow on a 4-byte boundary (early microcode archive + main archive).
//
// The buffer is read in place; nothing is copied. validate() checks every
// entry once; find() and iteration then work on the validated archive and
// cannot fail on malformed data.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "lib/str.hpp"

namespace vmm::files {

enum class CpioType : uint8_t { regular, directory, symlink, other };

struct CpioEntry {
    // The archive's name without leading "/" and "./" and without trailing
    // "/": "./boot/vmlinuz" and "/boot/vmlinuz" are "boot/vmlinuz", "." is "".
    // Redundant separators inside ("a//b", "a/./b") are kept; compare names
    // with same_path(). Points into the archive buffer, not NUL-terminated.
    lib::StrView name;
    CpioType type;
    uint32_t mode;  // st_mode: file type and permission bits
    uint32_t size;  // data bytes (a symlink's data is its target)
    const uint8_t* data;
    uint32_t ino;
    uint32_t nlink;
    uint32_t devmajor;
    uint32_t devminor;
    size_t offset;  // of the entry's header in the buffer
};

// True when a and b name the same path: compared component by component,
// ignoring empty and "." components (so "/a//b/" equals "./a/b"). ".." is an
// ordinary component here; validate() refuses archives whose names have one.
bool same_path(lib::StrView a, lib::StrView b);

class CpioArchive {
public:
    static constexpr size_t header_size = 110;
    // Longest namesize accepted, NUL included: Linux's PATH_MAX.
    static constexpr size_t max_name = 4096;
    static constexpr const char* trailer_name = "TRAILER!!!";

    constexpr CpioArchive(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    // Checks the whole archive; the first call does the work, later calls
    // return its result. Errors:
    //   truncated    header, name or data past the end; no trailer (also for
    //                an empty buffer)
    //   invalid      bad magic, a non-hex digit, namesize 0, a name without
    //                its NUL or with a NUL inside, a ".." component, an empty
    //                name on a non-directory, junk after a trailer
    //   out_of_range namesize above max_name
    //   bad_checksum 070702 regular file whose data bytes do not sum to the
    //                header's check field (32-bit sum, as the kernel checks)
    // error_message() then says what was wrong and at which offset.
    lib::Status validate();

    // The regular file named `path` (compared with same_path()). When names
    // repeat, the last entry wins, as when Linux unpacks an initramfs; if that
    // last entry is not a regular file the answer is `unsupported` (symlinks
    // are not followed). A hard link (GNU cpio writes nlink > 1 and size 0 on
    // all but the last name of a group, which carries the data) yields the
    // data of the group's entry that has some. Errors: validate()'s error
    // after a failed validate(), invalid before any validate() and for a path
    // with a ".." component, not_found, unsupported.
    lib::Result<CpioEntry> find(lib::StrView path) const;

    // Entries in archive order, trailers excluded, hard links as stored.
    // Empty unless validate() succeeded.
    class Iterator {
    public:
        const CpioEntry& operator*() const { return entry_; }
        const CpioEntry* operator->() const { return &entry_; }
        Iterator& operator++();
        bool operator==(const Iterator& o) const { return at_end_ == o.at_end_ && (at_end_ || next_ == o.next_); }

    private:
        friend class CpioArchive;
        Iterator(const CpioArchive* a, size_t from);
        void advance(size_t from);

        const CpioArchive* archive_ = nullptr;
        CpioEntry entry_{};
        size_t next_ = 0;
        bool at_end_ = true;
    };
    Iterator begin() const;
    Iterator end() const { return Iterator(this, size_); }

    // Entries counted by validate(), trailers excluded.
    size_t entry_count() const { return entries_; }
    bool validated() const { return state_ == State::valid; }

    // After a failed validate(): the offset of the entry's header at fault
    // (or where a header was expected), a short reason, and both as one line
    // "cpio: entry at offset N: reason". Empty strings before or after success.
    size_t error_offset() const { return err_offset_; }
    const char* error_reason() const { return err_reason_; }
    const char* error_message() const { return err_msg_; }

private:
    enum class State : uint8_t { unchecked, valid, failed };
    struct Failure {
        lib::Error error;
        const char* reason;
    };

    // Parses the entry at `off`, checking its header, name and data bounds.
    // On success fills `e` and `next` (offset after its data padding) and says
    // whether it is a trailer.
    bool parse_at(size_t off, CpioEntry& e, size_t& next, bool& trailer, Failure& f) const;
    // Steps over the zero bytes that may follow a trailer: the offset of the
    // first non-zero byte at or after `off`, or size_.
    size_t skip_padding(size_t off) const;
    lib::Status fail(size_t off, Failure f);

    const uint8_t* data_;
    size_t size_;
    State state_ = State::unchecked;
    lib::Error result_ = lib::Error::none;
    size_t entries_ = 0;
    size_t err_offset_ = 0;
    const char* err_reason_ = "";
    char err_msg_[96] = {};
};

}  // namespace vmm::files
