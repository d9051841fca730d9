// qcow2 version 2 and 3 images as a block device: L1/L2 lookup through an L2
// cache, refcounted cluster allocation, copy-on-write from a backing device,
// zero clusters, compressed clusters (read), discard, internal snapshots.
//
// Crash safety (what a power cut at any point leaves):
//  - new data is written to a newly allocated cluster first;
//  - refcount blocks are written and the file flushed before any L2 table that
//    references the new cluster is written; new L2 tables are written and
//    flushed before the L1 entry points at them;
//  - clusters that lose a reference are decremented only after the table
//    that dropped them is on disk;
//  so an interrupted image has leaked clusters at most, and flush() makes
//  every acknowledged write durable.
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
#include "vmm/block/qcow2/cache.hpp"
#include "vmm/block/qcow2/layout.hpp"

namespace vmm::block::qcow2 {

struct SnapshotInfo {
    uint64_t l1_offset = 0;
    uint32_t l1_size = 0;
    char id[32] = {};
    char name[256] = {};
    uint32_t date_sec = 0, date_nsec = 0;
    uint64_t vm_clock_nsec = 0;
    uint64_t vm_state_size = 0;
    uint64_t disk_size = 0;
    uint64_t icount = 0;
};

struct CheckResult {
    uint64_t corruptions = 0;
    uint64_t leaks = 0;
    uint64_t leaks_fixed = 0;
    uint64_t corruptions_fixed = 0;
    uint64_t check_errors = 0;
    // Of the corruptions: COPIED flags that disagree with a refcount of 1.
    // Harmless for data (at worst a needless copy) and what an interrupted
    // snapshot operation can leave, in QEMU as here.
    uint64_t copied_flag_errors = 0;
    uint64_t allocated_clusters = 0;  // guest clusters with data in this image
    uint64_t total_clusters = 0;      // guest clusters of the virtual disk
    uint64_t fragmented_clusters = 0;
    uint64_t compressed_clusters = 0;
    uint64_t image_end_offset = 0;
    // Called for each finding, with a human-readable line (no newline).
    void (*report)(void* ctx, const char* line) = nullptr;
    void* report_ctx = nullptr;
};

struct CreateOptions {
    uint64_t size = 0;
    uint32_t version = version3;
    uint32_t cluster_bits = default_cluster_bits;
    uint32_t refcount_order = v2_refcount_order;
    lib::StrView backing_file;
    lib::StrView backing_format;
    bool lazy_refcounts = false;
};

// Writes a new empty image onto an empty writable file.
lib::Status create(lib::Allocator& a, File& file, const CreateOptions& opt);

class Device final : public BlockDevice {
public:
    static lib::Result<Device*> open(lib::Allocator& a, FileOpener& opener, File& file, lib::StrView name,
                                     const OpenOptions& opt);

    const char* format_name() const override { return "qcow2"; }
    BlockDevice* backing() override { return backing_; }
    lib::Status extent_at(uint64_t off, uint64_t len, Extent& out) override;
    lib::Status close() override;
    lib::Result<uint64_t> image_end() override;  // after the last cluster with a reference

    // Rewrites the backing file name and format in the header (qemu-img
    // rebase -u): the data is not touched and the open backing device stays
    // until the image is opened again. An empty name removes the backing.
    lib::Status set_backing_name(lib::StrView name, lib::StrView format);

    // Image properties for `info`.
    uint32_t version() const { return version_; }
    uint32_t cluster_size() const { return cluster_size_; }
    uint32_t refcount_bits() const { return 1u << refcount_order_; }
    bool lazy_refcounts() const { return compat_ & compat_lazy_refcounts; }
    bool corrupt() const { return incompat_ & incompat_corrupt; }
    bool was_dirty() const { return was_dirty_; }
    const char* backing_name() const { return backing_name_; }
    const char* backing_format() const { return backing_format_; }
    uint32_t snapshot_count() const { return nb_snapshots_; }
    const SnapshotInfo& snapshot(uint32_t i) const { return snapshots_[i]; }

    // Compares refcounts with the references found by walking every table.
    enum class Repair : uint8_t {
        none,
        leaks,  // refcounts above the reference count are lowered
        all,    // also: refcounts below it raised (inside existing refcount
                // blocks), then COPIED flags made to match
    };
    lib::Status check(CheckResult& r, Repair repair);

    // Internal snapshots (like qemu-img snapshot -c/-d/-a).
    lib::Status snapshot_create(lib::StrView name, uint32_t date_sec, uint32_t date_nsec);
    lib::Status snapshot_delete(lib::StrView name_or_id);
    lib::Status snapshot_apply(lib::StrView name_or_id);

    Device(lib::Allocator& a, FileOpener& o, File& f) : alloc_(a), opener_(o), file_(f) {}
    ~Device() = default;

protected:
    lib::Status do_read(uint64_t off, void* buf, size_t len) override;
    lib::Status do_write(uint64_t off, const void* buf, size_t len) override;
    lib::Status do_flush() override;
    lib::Status do_discard(uint64_t off, uint64_t len) override;
    lib::Status do_write_zeroes(uint64_t off, uint64_t len) override;

private:
    // open.cpp
    lib::Error why(lib::Error e, const char* reason);
    const char** detail_ = nullptr;
    lib::Status parse_header(const uint8_t* hdr, size_t hdr_len, bool writable);
    lib::Status parse_extensions(const uint8_t* cluster0, size_t len);
    lib::Status load_snapshots();
    lib::Status set_incompat(uint64_t bits);
    void release();

    // l2.cpp: table access
    lib::Result<CacheSlot*> load_l2(uint64_t l2_offset);
    lib::Result<uint64_t> l2_entry(uint64_t guest_off);  // 0 when no L2 table
    lib::Result<CacheSlot*> l2_for_write(uint64_t l1_index);
    lib::Status write_l1_entry(uint64_t l1_index);
    lib::Status write_back_l2(CacheSlot& s);
    lib::Status read_compressed(uint64_t entry, uint8_t* cluster_out);
    lib::Status compressed_span(uint64_t entry, uint64_t& host_off, uint64_t& bytes) const;
    lib::Status cluster_source(uint64_t entry, uint64_t guest_cluster_off, uint8_t* out);
    lib::Status write_cluster(uint64_t guest_off, const uint8_t* data, size_t len);
    lib::Status zero_cluster(uint64_t guest_off, size_t len, bool dealloc);
    lib::Status free_entry(uint64_t entry);

    // refcount.cpp
    lib::Result<CacheSlot*> load_refblock(uint64_t offset);
    lib::Result<uint64_t> get_refcount(uint64_t cluster);
    lib::Status set_refcount(uint64_t cluster, uint64_t value);
    lib::Status ensure_refblock(uint64_t cluster, bool& used_cluster);
    lib::Status grow_refcount_table(uint64_t min_entries);
    lib::Result<uint64_t> alloc_clusters(uint64_t n);
    lib::Status defer_free(uint64_t host_off, uint64_t nclusters);
    lib::Status apply_deferred_frees();
    lib::Status write_dirty_refblocks();
    lib::Status flush_metadata();
    uint64_t rt_entries() const { return rt_clusters_ * (cluster_size_ / 8); }
    uint64_t rt_get(uint64_t i) const;

    // snapshot.cpp
    lib::Status add_refcount(uint64_t cluster, int delta);
    bool refcount_dry_run_ = false;  // add_refcount only checks the width
    lib::Status walk_refs(const uint8_t* l1, uint32_t l1_size, int delta, uint8_t* table);
    lib::Status read_table(uint64_t off, uint8_t* out);
    lib::Status sync_copied_flags();
    lib::Status switch_snapshot_table(const uint8_t* table, uint64_t bytes, uint32_t count);

    friend class Checker;
    friend class SnapshotWriter;

    lib::Allocator& alloc_;
    FileOpener& opener_;
    File& file_;
    BlockDevice* backing_ = nullptr;

    uint32_t version_ = 0;
    uint32_t cluster_bits_ = 0;
    uint32_t cluster_size_ = 0;
    uint32_t l2_bits_ = 0;  // log2 of entries per L2 table
    uint32_t l1_size_ = 0;
    uint64_t l1_offset_ = 0;
    uint64_t rt_offset_ = 0;
    uint32_t rt_clusters_ = 0;
    uint32_t nb_snapshots_ = 0;
    uint64_t snapshots_offset_ = 0;
    uint64_t incompat_ = 0, compat_ = 0, autoclear_ = 0;
    uint32_t refcount_order_ = v2_refcount_order;
    uint32_t header_length_ = v2_header_length;
    uint64_t refblock_entries_ = 0;
    bool was_dirty_ = false;
    char backing_name_[max_backing_name + 1] = {};
    char backing_format_[32] = {};

    Buffer l1_;  // big-endian, as on disk
    Buffer rt_;  // refcount table, big-endian
    MetaCache l2_cache_;
    MetaCache rb_cache_;
    Buffer cluster_buf_;     // one cluster for copy-on-write
    Buffer compressed_buf_;  // compressed input
    Buffer decomp_buf_;      // last decompressed cluster
    uint64_t decomp_entry_ = 0;
    Buffer snapshot_mem_;
    SnapshotInfo* snapshots_ = nullptr;
    Buffer snapshot_table_;  // raw table as on disk
    uint64_t snapshot_table_bytes_ = 0;

    struct Deferred {
        uint64_t host_off;
        uint64_t nclusters;
    };
    Buffer deferred_mem_;
    size_t deferred_count_ = 0;
    size_t deferred_cap_ = 0;
    uint64_t free_hint_ = 0;  // cluster index where the free search starts
    Buffer zero_buf_;         // one cluster of zeros
    // Data or refcount blocks were written since the last file flush: flush
    // before an L2 table that may reference them goes to disk.
    bool need_sync_ = false;
    lib::Status sync();
};

}  // namespace vmm::block::qcow2
