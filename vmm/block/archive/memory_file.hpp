// A read-only File over bytes that are already in memory: an image inside
// Dom0's boot cpio archive (mapped read-only by hv) or a test buffer. Reads
// complete inline; writes, flushes of writes and resizes are refused
// (denied), since nothing could make them durable.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/block/file.hpp"

namespace vmm::block {

class MemoryFile : public File {
public:
    MemoryFile(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

    void submit(FileRequest& r) override;
    void wait() override {}
    uint64_t size() const override { return size_; }
    bool writable() const override { return false; }

private:
    const uint8_t* data_;
    uint64_t size_;
};

}  // namespace vmm::block
