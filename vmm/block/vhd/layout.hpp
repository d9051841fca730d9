// VHD (Virtual PC / "vpc") on-disk layout, from Microsoft's "Virtual Hard Disk
// Image Format Specification" v1.0. All integers big-endian.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/block/endian.hpp"

namespace vmm::block::vhd {

constexpr char footer_cookie[8] = {'c', 'o', 'n', 'e', 'c', 't', 'i', 'x'};
constexpr char dynamic_cookie[8] = {'c', 'x', 's', 'p', 'a', 'r', 's', 'e'};
constexpr uint32_t features_reserved = 0x00000002;  // always set
constexpr uint32_t format_version = 0x00010000;
constexpr uint32_t header_version = 0x00010000;
constexpr uint64_t fixed_data_offset = ~0ull;
constexpr uint32_t disk_fixed = 2;
constexpr uint32_t disk_dynamic = 3;
constexpr uint32_t disk_differencing = 4;
constexpr uint32_t bat_unused = 0xffffffffu;
constexpr uint32_t sector_size = 512;
constexpr uint32_t default_block_size = 2u << 20;
constexpr uint32_t os_windows = 0x5769326b;  // "Wi2k"
constexpr uint32_t timestamp_epoch_unix = 946684800;  // 2000-01-01 00:00:00 UTC
// Largest CHS geometry: 65535 cylinders, 16 heads, 255 sectors per track.
constexpr uint64_t max_chs_sectors = 65535ull * 16 * 255;
constexpr uint64_t max_size = 2040ull << 30;  // QEMU's limit, BAT entries are 32-bit sectors

// Parent locator platform codes.
constexpr uint32_t plat_none = 0;
constexpr uint32_t plat_w2ru = 0x57327275;  // "W2ru": relative path, UTF-16LE
constexpr uint32_t plat_w2ku = 0x57326b75;  // "W2ku": absolute path, UTF-16LE
constexpr uint32_t plat_macx = 0x4d616358;  // "MacX": file:// URL, UTF-8
constexpr uint32_t plat_wi2r = 0x57693272;  // "Wi2r": deprecated, ASCII
constexpr uint32_t plat_wi2k = 0x5769326b;  // "Wi2k": deprecated, ASCII

struct Footer {
    char cookie[8];
    Be32 features;
    Be32 version;
    Be64 data_offset;
    Be32 timestamp;
    char creator_app[4];
    Be32 creator_version;
    Be32 creator_os;
    Be64 original_size;
    Be64 current_size;
    Be16 cylinders;
    uint8_t heads;
    uint8_t sectors_per_track;
    Be32 disk_type;
    Be32 checksum;
    uint8_t unique_id[16];
    uint8_t saved_state;
    uint8_t reserved[427];
};
static_assert(sizeof(Footer) == 512);
static_assert(offsetof(Footer, data_offset) == 16);
static_assert(offsetof(Footer, creator_app) == 28);
static_assert(offsetof(Footer, current_size) == 48);
static_assert(offsetof(Footer, cylinders) == 56);
static_assert(offsetof(Footer, disk_type) == 60);
static_assert(offsetof(Footer, checksum) == 64);
static_assert(offsetof(Footer, unique_id) == 68);
static_assert(offsetof(Footer, saved_state) == 84);

struct ParentLocator {
    Be32 platform_code;
    Be32 data_space;
    Be32 data_length;
    Be32 reserved;
    Be64 data_offset;
};
static_assert(sizeof(ParentLocator) == 24);

struct DynamicHeader {
    char cookie[8];
    Be64 data_offset;
    Be64 table_offset;
    Be32 header_version;
    Be32 max_table_entries;
    Be32 block_size;
    Be32 checksum;
    uint8_t parent_unique_id[16];
    Be32 parent_timestamp;
    Be32 reserved;
    uint8_t parent_name[512];  // UTF-16BE
    ParentLocator locators[8];
    uint8_t reserved2[256];
};
static_assert(sizeof(DynamicHeader) == 1024);
static_assert(offsetof(DynamicHeader, table_offset) == 16);
static_assert(offsetof(DynamicHeader, max_table_entries) == 28);
static_assert(offsetof(DynamicHeader, block_size) == 32);
static_assert(offsetof(DynamicHeader, checksum) == 36);
static_assert(offsetof(DynamicHeader, parent_unique_id) == 40);
static_assert(offsetof(DynamicHeader, parent_name) == 64);
static_assert(offsetof(DynamicHeader, locators) == 576);

// One's complement of the byte sum, with the checksum field counted as zero.
inline uint32_t checksum(const void* p, size_t n, size_t checksum_offset)
{
    auto* b = static_cast<const uint8_t*>(p);
    uint32_t sum = 0;
    for (size_t i = 0; i < n; ++i)
        if (i < checksum_offset || i >= checksum_offset + 4) sum += b[i];
    return ~sum;
}

struct Geometry {
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors;
    uint64_t total() const { return uint64_t(cylinders) * heads * sectors; }
};
// CHS geometry for a sector count (spec appendix "CHS calculation").
Geometry geometry_for(uint64_t sectors);

}  // namespace vmm::block::vhd
