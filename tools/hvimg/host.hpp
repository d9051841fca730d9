// Host side of the block code: image files through POSIX pread/pwrite/
// fdatasync, names resolved like QEMU resolves backing files (relative to the
// directory of the image that names them), memory from malloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/allocator.hpp"
#include "vmm/block/file.hpp"
#include "vmm/block/opener.hpp"

namespace hvimg {

class PosixFile final : public vmm::block::File {
public:
    PosixFile(int fd, bool writable, std::string path);
    ~PosixFile();
    void submit(vmm::block::FileRequest& r) override;  // completes inline
    void wait() override {}
    uint64_t size() const override { return size_; }
    bool writable() const override { return writable_; }
    const std::string& path() const { return path_; }
    uint64_t allocated_bytes() const;  // st_blocks * 512

private:
    int fd_;
    bool writable_;
    uint64_t size_;
    std::string path_;
};

class PosixOpener final : public vmm::block::FileOpener {
public:
    lib::Result<vmm::block::File*> open(lib::StrView name, lib::StrView relative_to, bool writable) override;
    void close(vmm::block::File* f) override;
    lib::StrView resolved_name(vmm::block::File* f) override;
    // Creates (or truncates) a file for a new image.
    lib::Result<vmm::block::File*> create(const std::string& path);
    static std::string resolve(const std::string& name, const std::string& relative_to);
};

class MallocAllocator final : public lib::Allocator {
public:
    void* allocate(size_t size, size_t align) override;
    void deallocate(void* p, size_t size) override;
    size_t live_bytes() const { return live_; }

private:
    size_t live_ = 0;
};

}  // namespace hvimg
