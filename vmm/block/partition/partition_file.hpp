// A partition as a File: bytes [offset, offset + size) of the disk's File,
// so that an image format opened on it sees a file of the partition's size
// (as qcow2 on an LVM volume does). Requests outside it are out_of_range;
// resize is unsupported. Completions pass through for asynchronous disks:
// each forwarded request keeps the caller's in one of a few slots.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/block/file.hpp"

namespace vmm::block {

class PartitionFile final : public File {
public:
    PartitionFile(File& disk, uint64_t offset, uint64_t size, bool writable = true)
        : disk_(disk), offset_(offset), size_(size), writable_(writable && disk.writable())
    {
    }

    void submit(FileRequest& r) override;
    void wait() override { disk_.wait(); }
    uint64_t size() const override { return size_; }
    bool writable() const override { return writable_; }
    uint64_t offset() const { return offset_; }

private:
    static constexpr unsigned slots = 16;
    struct Forward {
        FileRequest inner;
        FileRequest* outer = nullptr;
    };
    static void forwarded(FileRequest& inner, lib::Status s);

    File& disk_;
    uint64_t offset_, size_;
    bool writable_;
    Forward fwd_[slots];
};

}  // namespace vmm::block
