// Opening an image by name: probe the format, open the backing chain, and
// creating images of each format.
#pragma once

#include <cstdint>

#include "lib/allocator.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"
#include "vmm/block/device.hpp"
#include "vmm/block/opener.hpp"

namespace vmm::block {

enum class Format : uint8_t { automatic, raw, qcow2, vpc };

constexpr const char* format_name(Format f)
{
    switch (f) {
    case Format::automatic: return "auto";
    case Format::raw: return "raw";
    case Format::qcow2: return "qcow2";
    case Format::vpc: return "vpc";
    }
    return "?";
}
lib::Result<Format> parse_format(lib::StrView s);

constexpr uint32_t max_chain_depth = 64;  // a loop in backing names stops here

struct OpenOptions {
    bool writable = false;
    Format format = Format::automatic;
    bool open_backing = true;       // false: ignore the backing file (info)
    uint32_t l2_cache_tables = 32;  // qcow2 L2 cache size in tables
    uint32_t depth = 0;             // position in the chain (set internally)
    // When set, a failed open stores a static string naming the first
    // reason (e.g. which header field is invalid) here; *detail starts null.
    const char** detail = nullptr;
};

// Names the format of an open file from its first bytes (and, for fixed VHD,
// its last sector). Anything unrecognised is raw.
lib::Result<Format> probe_format(File& f);

// Opens `name` and, recursively, its backing chain (always read-only).
lib::Result<BlockDevice*> open_image(lib::Allocator& a, FileOpener& opener, lib::StrView name,
                                     lib::StrView relative_to, const OpenOptions& opt);

}  // namespace vmm::block
