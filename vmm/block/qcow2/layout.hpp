// qcow2 on-disk layout (QEMU docs/interop/qcow2.txt). All integers big-endian.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/block/endian.hpp"

namespace vmm::block::qcow2 {

constexpr uint32_t magic = 0x514649fb;  // "QFI\xfb"
constexpr uint32_t version2 = 2;
constexpr uint32_t version3 = 3;
constexpr uint32_t min_cluster_bits = 9;
constexpr uint32_t max_cluster_bits = 21;   // 2 MiB, QEMU's limit
constexpr uint32_t default_cluster_bits = 16;
constexpr uint32_t crypt_none = 0;
constexpr uint32_t v2_header_length = 72;
constexpr uint32_t v3_min_header_length = 104;
constexpr uint32_t v3_header_length = 112;  // with compression_type + padding
constexpr uint32_t v2_refcount_order = 4;   // 16-bit refcounts
constexpr uint32_t max_refcount_order = 6;
constexpr uint32_t max_backing_name = 1023;
constexpr uint64_t max_l1_bytes = 32u << 20;          // QEMU's QCOW_MAX_L1_SIZE
constexpr uint64_t max_refcount_table_bytes = 8u << 20;  // QCOW_MAX_REFTABLE_SIZE
constexpr uint32_t max_snapshots = 65536;
constexpr uint8_t compression_zlib = 0;

// Feature bits (header fields incompatible/compatible/autoclear_features).
constexpr uint64_t incompat_dirty = 1ull << 0;
constexpr uint64_t incompat_corrupt = 1ull << 1;
constexpr uint64_t incompat_data_file = 1ull << 2;
constexpr uint64_t incompat_compression = 1ull << 3;
constexpr uint64_t incompat_extended_l2 = 1ull << 4;
constexpr uint64_t compat_lazy_refcounts = 1ull << 0;
constexpr uint64_t autoclear_bitmaps = 1ull << 0;

// Header extension types.
constexpr uint32_t ext_end = 0;
constexpr uint32_t ext_backing_format = 0xe2792aca;
constexpr uint32_t ext_feature_table = 0x6803f857;
constexpr uint32_t ext_bitmaps = 0x23852875;
constexpr uint32_t ext_crypto = 0x0537be77;
constexpr uint32_t ext_data_file = 0x44415441;

// Table entries.
constexpr uint64_t offset_mask = 0x00fffffffffffe00ull;  // bits 9-55
constexpr uint64_t entry_copied = 1ull << 63;            // refcount is exactly 1
constexpr uint64_t entry_compressed = 1ull << 62;        // L2 only
constexpr uint64_t l2_zero = 1ull << 0;                  // L2 standard cluster, v3
constexpr uint64_t l1_reserved_mask = 0x7f000000000001ffull;
constexpr uint64_t l2_standard_reserved_mask = 0x3f000000000001feull;
constexpr uint64_t refcount_table_offset_mask = 0xfffffffffffffe00ull;
constexpr uint32_t compressed_sector_size = 512;

struct Header {
    Be32 magic;
    Be32 version;
    Be64 backing_file_offset;
    Be32 backing_file_size;
    Be32 cluster_bits;
    Be64 size;
    Be32 crypt_method;
    Be32 l1_size;
    Be64 l1_table_offset;
    Be64 refcount_table_offset;
    Be32 refcount_table_clusters;
    Be32 nb_snapshots;
    Be64 snapshots_offset;
    // version 3
    Be64 incompatible_features;
    Be64 compatible_features;
    Be64 autoclear_features;
    Be32 refcount_order;
    Be32 header_length;
    uint8_t compression_type;
    uint8_t padding[7];
};
static_assert(sizeof(Header) == 112);
static_assert(offsetof(Header, backing_file_offset) == 8);
static_assert(offsetof(Header, cluster_bits) == 20);
static_assert(offsetof(Header, size) == 24);
static_assert(offsetof(Header, l1_size) == 36);
static_assert(offsetof(Header, l1_table_offset) == 40);
static_assert(offsetof(Header, refcount_table_offset) == 48);
static_assert(offsetof(Header, refcount_table_clusters) == 56);
static_assert(offsetof(Header, nb_snapshots) == 60);
static_assert(offsetof(Header, snapshots_offset) == 64);
static_assert(offsetof(Header, incompatible_features) == 72);
static_assert(offsetof(Header, refcount_order) == 96);
static_assert(offsetof(Header, header_length) == 100);
static_assert(offsetof(Header, compression_type) == 104);

struct ExtensionHeader {
    Be32 type;
    Be32 length;
};
static_assert(sizeof(ExtensionHeader) == 8);

// One entry of the feature name table extension.
struct FeatureName {
    uint8_t type;  // 0 incompatible, 1 compatible, 2 autoclear
    uint8_t bit;
    char name[46];
};
static_assert(sizeof(FeatureName) == 48);

// Snapshot table entry, followed by extra data, the id and the name, padded to
// a multiple of 8 bytes.
struct SnapshotHeader {
    Be64 l1_table_offset;
    Be32 l1_size;
    Be16 id_str_size;
    Be16 name_size;
    Be32 date_sec;
    Be32 date_nsec;
    Be64 vm_clock_nsec;
    Be32 vm_state_size;
    Be32 extra_data_size;
};
static_assert(sizeof(SnapshotHeader) == 40);
static_assert(offsetof(SnapshotHeader, extra_data_size) == 36);

struct SnapshotExtra {
    Be64 vm_state_size_large;
    Be64 disk_size;
    Be64 icount;
};
static_assert(sizeof(SnapshotExtra) == 24);

}  // namespace vmm::block::qcow2
