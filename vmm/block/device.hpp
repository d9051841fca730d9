// The block-backend interface: a virtual disk of size() bytes that a device
// model (virtio-blk in Dom0) or the host image tool reads and writes.
// Backends stack: a qcow2 or VHD device sits on a File and optionally on a
// backing BlockDevice; raw sits on a File.
//
// Asynchronous by contract: submit() takes a request and calls its completion
// when done. The backends in this first version complete every request
// inline, before submit() returns, which the contract allows; the synchronous
// entry points (read/write/...) are what submit() dispatches to.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace vmm::block {

enum class BlockOp : uint8_t { read, write, flush, discard, write_zeroes };

struct BlockRequest {
    BlockOp op = BlockOp::read;
    uint64_t offset = 0;  // bytes
    uint64_t len = 0;     // bytes
    void* buf = nullptr;  // read/write only
    void (*done)(BlockRequest&, lib::Status) = nullptr;
    void* ctx = nullptr;
};

// What one layer knows about a range (for `map` and for copying chains).
enum class ExtentState : uint8_t {
    data,         // this layer holds the data
    zero,         // this layer says: reads as zeros (qcow2 zero cluster)
    unallocated,  // not in this layer: the backing file shows through, or zeros
};
struct Extent {
    uint64_t length = 0;
    ExtentState state = ExtentState::unallocated;
    bool has_host_offset = false;
    uint64_t host_offset = 0;
    bool compressed = false;
};

class BlockDevice {
public:
    uint64_t size() const { return size_; }
    bool read_only() const { return read_only_; }
    virtual const char* format_name() const = 0;
    virtual BlockDevice* backing() { return nullptr; }

    // Validates the range and rights, runs the request, calls r.done.
    void submit(BlockRequest& r);

    // Synchronous entry points. Ranges must lie inside [0, size()); any byte
    // granularity is accepted.
    lib::Status read(uint64_t off, void* buf, size_t len);
    lib::Status write(uint64_t off, const void* buf, size_t len);
    lib::Status flush();
    lib::Status discard(uint64_t off, uint64_t len);
    lib::Status write_zeroes(uint64_t off, uint64_t len);

    // Describes the layer's own view of the extent starting at `off`, at most
    // `len` bytes long (out.length > 0 on success).
    virtual lib::Status extent_at(uint64_t off, uint64_t len, Extent& out) = 0;

    // Where this layer's bytes end in its file, so that another image may be
    // placed after it on the same volume (a live snapshot's overlay).
    // unsupported for raw, which is its whole file.
    virtual lib::Result<uint64_t> image_end() { return lib::err(lib::Error::unsupported); }

    // Flushes, marks the image clean, releases the backing chain and frees
    // this object. The device is gone afterwards whatever the status.
    virtual lib::Status close() = 0;

protected:
    ~BlockDevice() = default;
    virtual lib::Status do_read(uint64_t off, void* buf, size_t len) = 0;
    virtual lib::Status do_write(uint64_t off, const void* buf, size_t len) = 0;
    virtual lib::Status do_flush() = 0;
    virtual lib::Status do_discard(uint64_t off, uint64_t len) = 0;
    virtual lib::Status do_write_zeroes(uint64_t off, uint64_t len) = 0;

    lib::Status check_range(uint64_t off, uint64_t len, bool write) const;

    uint64_t size_ = 0;
    bool read_only_ = true;
};

// Reads [off, off+len) of a backing device where the range may reach past its
// end (a backing file smaller than its overlay): that part reads as zeros.
lib::Status read_backing(BlockDevice* backing, uint64_t off, void* buf, size_t len);

}  // namespace vmm::block
