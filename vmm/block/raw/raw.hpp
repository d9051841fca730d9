// Raw images: the virtual disk is the file, byte for byte.
#pragma once

#include "lib/allocator.hpp"
#include "vmm/block/device.hpp"
#include "vmm/block/file.hpp"
#include "vmm/block/opener.hpp"

namespace vmm::block {

class RawDevice final : public BlockDevice {
public:
    // Takes ownership of `file` (given back to `opener` on close).
    static lib::Result<RawDevice*> open(lib::Allocator& a, FileOpener& opener, File& file, bool writable);
    const char* format_name() const override { return "raw"; }
    lib::Status extent_at(uint64_t off, uint64_t len, Extent& out) override;
    lib::Status close() override;

    RawDevice(lib::Allocator& a, FileOpener& o, File& f) : alloc_(a), opener_(o), file_(f) {}

protected:
    lib::Status do_read(uint64_t off, void* buf, size_t len) override;
    lib::Status do_write(uint64_t off, const void* buf, size_t len) override;
    lib::Status do_flush() override;
    lib::Status do_discard(uint64_t off, uint64_t len) override;
    lib::Status do_write_zeroes(uint64_t off, uint64_t len) override;

private:
    lib::Allocator& alloc_;
    FileOpener& opener_;
    File& file_;
};

// Creates (truncates to) a raw image of `size` bytes on an empty writable file.
lib::Status raw_create(File& file, uint64_t size);

}  // namespace vmm::block
