// VHD images as a block device: fixed (data then footer), dynamic (BAT of
// blocks, each a sector bitmap then data) and differencing (dynamic whose
// clear bitmap bits show the parent, found through the parent locators).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/allocator.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"
#include "vmm/block/buffer.hpp"
#include "vmm/block/device.hpp"
#include "vmm/block/file.hpp"
#include "vmm/block/image.hpp"
#include "vmm/block/opener.hpp"
#include "vmm/block/vhd/layout.hpp"

namespace vmm::block::vhd {

struct CreateOptions {
    uint64_t size = 0;          // rounded up to the CHS geometry like QEMU does
    uint32_t type = disk_dynamic;
    uint32_t block_size = default_block_size;
    uint32_t timestamp = 0;     // seconds since 2000-01-01
    uint8_t unique_id[16] = {};
    // Differencing: the parent as it should be found again (relative name)
    // and its already-open device (for size, id and timestamp).
    lib::StrView parent_name;
    BlockDevice* parent = nullptr;
};

lib::Status create(lib::Allocator& a, File& file, const CreateOptions& opt);

class Device final : public BlockDevice {
public:
    static lib::Result<Device*> open(lib::Allocator& a, FileOpener& opener, File& file, lib::StrView name,
                                     const OpenOptions& opt);
    const char* format_name() const override { return "vpc"; }
    BlockDevice* backing() override { return parent_; }
    lib::Status extent_at(uint64_t off, uint64_t len, Extent& out) override;
    lib::Status close() override;
    lib::Result<uint64_t> image_end() override { return footer_offset_ + sizeof(Footer); }

    uint32_t disk_type() const { return type_; }
    uint32_t block_size() const { return block_size_; }
    const uint8_t* unique_id() const { return footer_.unique_id; }
    uint32_t timestamp() const { return footer_.timestamp.get(); }
    const char* parent_name() const { return parent_name_; }
    const char* creator() const { return creator_; }
    const Footer& footer() const { return footer_; }

    Device(lib::Allocator& a, FileOpener& o, File& f) : alloc_(a), opener_(o), file_(f) {}
    ~Device() = default;

protected:
    lib::Status do_read(uint64_t off, void* buf, size_t len) override;
    lib::Status do_write(uint64_t off, const void* buf, size_t len) override;
    lib::Status do_flush() override;
    lib::Status do_discard(uint64_t off, uint64_t len) override;
    lib::Status do_write_zeroes(uint64_t off, uint64_t len) override;

private:
    lib::Error why(lib::Error e, const char* reason);
    const char** detail_ = nullptr;
    lib::Status open_dynamic(lib::StrView name, const OpenOptions& opt);
    lib::Status find_parent_name(const DynamicHeader& h);
    lib::Result<uint8_t*> bitmap(uint32_t block);
    lib::Status alloc_block(uint32_t block);
    lib::Status read_block(uint32_t block, uint64_t in_block, uint8_t* out, size_t n);
    lib::Status write_block(uint32_t block, uint64_t in_block, const uint8_t* in, size_t n);
    uint64_t block_data(uint32_t block) const
    {
        return uint64_t(load_be32(bat_.data() + uint64_t(block) * 4)) * sector_size + bitmap_size_;
    }
    void release();

    lib::Allocator& alloc_;
    FileOpener& opener_;
    File& file_;
    BlockDevice* parent_ = nullptr;
    Footer footer_{};
    uint32_t type_ = 0;
    uint32_t block_size_ = 0;
    uint32_t bitmap_size_ = 0;
    uint32_t max_entries_ = 0;
    uint64_t bat_offset_ = 0;
    uint64_t footer_offset_ = 0;  // where the trailing footer is now
    bool footer_from_blocks_ = false;  // not at the file's end: after the last block
    Buffer bat_;                  // big-endian, as on disk
    Buffer bitmap_buf_;
    uint32_t bitmap_block_ = bat_unused;  // whose bitmap bitmap_buf_ holds
    Buffer sector_buf_;
    char parent_name_[1024] = {};
    char creator_[5] = {};
};

}  // namespace vmm::block::vhd
