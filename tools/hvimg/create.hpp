// Image creation shared by `create` and `convert`.
#pragma once

#include <string>
#include <vector>

#include "vmm/block/image.hpp"
#include "vmm/block/vhd/layout.hpp"

namespace hvimg {

struct Host;

struct CreateSpec {
    vmm::block::Format format = vmm::block::Format::raw;
    uint64_t size = 0;
    bool has_size = false;
    std::string backing, backing_fmt;
    uint32_t version = 3;
    uint32_t cluster_bits = 16;
    uint32_t refcount_order = 4;
    bool lazy_refcounts = false;
    uint32_t vhd_type = vmm::block::vhd::disk_dynamic;
    uint32_t block_size = vmm::block::vhd::default_block_size;
};

// Parses -o options (comma-separated key=value lists) for `fmt`.
CreateSpec parse_create_spec(vmm::block::Format fmt, const std::vector<std::string>& o_options,
                             const std::string& backing, const std::string& backing_fmt);
// Validates, then creates the file. On failure the target is removed.
void create_image(Host& h, const std::string& path, const CreateSpec& spec, bool unsafe);
std::string describe_create(const std::string& path, const CreateSpec& c);

}  // namespace hvimg
