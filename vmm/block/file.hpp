// The image-file interface every format sits on: byte-offset reads and writes,
// flush, size and resize. Asynchronous: submit() takes a request whose
// completion callback runs when the I/O is done. An implementation may
// complete inline, before submit() returns (the host POSIX file does); one
// that completes later (Dom0 over a disk driver) makes wait() block until at
// least one outstanding request has completed.
//
// Flush ordering: every write whose completion ran before a flush was
// submitted is durable when that flush completes. The formats rely on this to
// order metadata updates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace vmm::block {

enum class FileOp : uint8_t { read, write, flush, resize };

struct FileRequest {
    FileOp op = FileOp::read;
    uint64_t offset = 0;   // byte offset; for resize: the new size
    void* buf = nullptr;   // read destination or write source
    size_t len = 0;
    void (*done)(FileRequest&, lib::Status) = nullptr;
    void* ctx = nullptr;   // for the completion
};

class File {
public:
    virtual void submit(FileRequest& r) = 0;
    // Blocks until some outstanding request completes; returns at once when
    // nothing is outstanding.
    virtual void wait() = 0;
    virtual uint64_t size() const = 0;
    virtual bool writable() const = 0;

protected:
    ~File() = default;
};

// Synchronous helpers: submit and wait for this one request.
// A read that reaches beyond the end of the file is an error (truncated).
lib::Status file_read(File& f, uint64_t off, void* buf, size_t len);
// Like file_read, but the part beyond the end of the file reads as zeros.
lib::Status file_read_padded(File& f, uint64_t off, void* buf, size_t len);
lib::Status file_write(File& f, uint64_t off, const void* buf, size_t len);
lib::Status file_flush(File& f);
lib::Status file_resize(File& f, uint64_t size);

}  // namespace vmm::block
