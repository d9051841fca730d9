// A volume (a host partition) that holds an image and the external qcow2
// overlays that live snapshots put on it, end to end: layer 0 is the image
// the volume was made with (qcow2 or dynamic VHD), each later layer a qcow2
// overlay whose backing file is the layer below it, and only the top layer
// grows. What is a snapshot is the frozen layer below the overlay it
// started: the overlay's backing name is "<volume>@<snapshot>", which
// ChainOpener resolves to that layer.
//
// The table of layers sits in the volume's last 8 KiB, twice (two 4 KiB
// copies with a generation number and a CRC32, written alternately and
// flushed), so an update cut short by a power failure leaves the previous
// table. A volume without a valid table is a plain image at offset 0; the
// table and the space it takes appear with the first snapshot, and only if
// the image leaves room for them (a raw image fills its volume: it has
// none). Every field is checked on load: layers in order, inside the volume,
// not overlapping the table or each other, names NUL-terminated and unique.
// Portable: host-tested over real image files.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/allocator.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"
#include "vmm/block/device.hpp"
#include "vmm/block/endian.hpp"
#include "vmm/block/file.hpp"
#include "vmm/block/image.hpp"
#include "vmm/block/opener.hpp"
#include "vmm/block/partition/partition_file.hpp"

namespace vmm::block {

inline constexpr size_t snapshot_name_size = 48;  // with its NUL

// On-disk table: one copy of it. Big-endian like the formats beside it.
struct ChainTableHeader {
    uint8_t magic[8];  // "HVCHAIN1"
    Be32 version;      // 1
    Be32 layer_count;  // 1..max_layers
    Be64 generation;   // the copy with the higher one (and a good CRC) wins
    Be32 crc32;        // of the whole 4 KiB copy with this field zero
    Be32 reserved;
};
static_assert(sizeof(ChainTableHeader) == 32);

struct ChainLayerRecord {
    Be64 offset;   // bytes from the volume's start
    Be64 length;   // the layer's file: frozen layers end where their image does
    Be64 created;  // seconds since 1970 when the snapshot froze it (0: top)
    uint8_t format;  // Format: layer 0 as made; overlays are qcow2
    uint8_t reserved[7];
    char snapshot[snapshot_name_size];  // the snapshot that froze it; "" for the top
};
static_assert(sizeof(ChainLayerRecord) == 80);

class VolumeChain {
public:
    static constexpr uint64_t copy_bytes = 4096;
    static constexpr uint64_t table_bytes = 2 * copy_bytes;
    static constexpr uint32_t max_layers = 32;
    static constexpr uint64_t layer_align = 1ull << 20;     // overlays start on a MiB
    static constexpr uint64_t min_overlay_bytes = 4ull << 20;  // room an overlay needs to be worth making
    static_assert(sizeof(ChainTableHeader) + max_layers * sizeof(ChainLayerRecord) <= copy_bytes);

    struct Layer {
        uint64_t offset = 0, length = 0, created = 0;
        Format format = Format::automatic;
        char snapshot[snapshot_name_size] = "";
    };

    // Reads the table of `volume`: not_found when it has none (a plain
    // image), corrupt (with *detail naming the field) when a copy with a
    // good CRC breaks a rule.
    lib::Status load(File& volume, const char** detail = nullptr);
    // Writes the table into the copy not holding the current one and
    // flushes. The volume is unchanged if this fails part-way.
    lib::Status store(File& volume);
    // Undoes a store: puts `previous` (this chain before the change) back
    // on the volume, or no table if it had none.
    lib::Status restore(File& volume, const VolumeChain& previous);

    uint32_t count() const { return count_; }
    const Layer& layer(uint32_t i) const { return layers_[i]; }
    const Layer& top() const { return layers_[count_ - 1]; }
    // The layer the snapshot froze, or -1.
    int find(lib::StrView snapshot) const;
    bool stored() const { return stored_; }
    static uint64_t table_offset(uint64_t volume_size) { return volume_size - table_bytes; }

    // A volume without a table: its image is layer 0 over the whole volume.
    void reset_plain(uint64_t volume_size, Format f);
    // Freezes the top at `frozen_end` (where its image ends) as `snapshot`
    // and starts a new top after it (aligned): out_of_range when the volume
    // has no room left (or too many layers), exists when the name is taken.
    lib::Status push(lib::StrView snapshot, uint64_t frozen_end, Format frozen_format, uint64_t created,
                     uint64_t volume_size);
    // Keeps layers 0..i and a new empty top where layer i+1 started (the
    // snapshot of layer i becomes the state of the disk again).
    lib::Status truncate_after(uint32_t i, uint64_t volume_size);
    // Takes frozen layer i out (its data moved into the layer above).
    lib::Status remove(uint32_t i);

    // Valid names: 1..47 characters of [A-Za-z0-9._+-], not starting with '.'.
    static bool valid_name(lib::StrView s);

private:
    lib::Status parse(const uint8_t* copy, uint64_t volume_size, const char** detail);
    void encode(uint8_t* copy) const;
    Layer layers_[max_layers];
    uint32_t count_ = 0;
    uint64_t generation_ = 0;
    unsigned current_copy_ = 0;  // where the table in force is
    bool stored_ = false;        // the volume has a table (load or store succeeded)
};

// Opens volumes with snapshot chains for the image formats: a name without
// '@' is the volume's top layer (the whole volume if it has no table), and
// "<volume>@<snapshot>" a frozen layer (read-only). Each volume is opened
// once from `volumes` (writable if its top is) and shared by the views of
// its layers, so a chain of one volume holds it once. Names the inner opener
// does not take ("files" with no table) pass through as they are.
class ChainOpener final : public FileOpener {
public:
    static constexpr unsigned max_volumes = 8;
    static constexpr unsigned max_views = 48;

    ChainOpener(FileOpener& volumes, lib::Allocator& a) : volumes_(volumes), alloc_(a) {}
    ChainOpener(const ChainOpener&) = delete;
    ChainOpener& operator=(const ChainOpener&) = delete;
    ~ChainOpener();

    lib::Result<File*> open(lib::StrView name, lib::StrView relative_to, bool writable) override;
    void close(File* f) override;
    lib::StrView resolved_name(File* f) override;

    // The chain of an open volume (by its name, without '@'); null when it is
    // not open here. Its table may be changed and stored by the caller; the
    // views already open keep their ranges.
    struct Volume {
        char name[96] = "";
        File* file = nullptr;
        bool writable = false;
        bool has_table = false;
        unsigned refs = 0;
        VolumeChain chain;
    };
    Volume* volume(lib::StrView name);
    // Opens `name` (without '@') and keeps it open until release(): for the
    // snapshot operations on a volume no device has open.
    lib::Result<Volume*> hold(lib::StrView name, bool writable);
    void release(Volume* v);
    // A view of bytes [offset, offset+length) of the volume, for making an
    // overlay there; close it with close().
    lib::Result<File*> view(Volume& v, uint64_t offset, uint64_t length, bool writable);

private:
    struct View {
        PartitionFile* file = nullptr;
        Volume* volume = nullptr;
        char name[96 + 1 + snapshot_name_size] = "";
    };
    lib::Result<Volume*> acquire(lib::StrView name, lib::StrView relative_to, bool writable);
    void drop(Volume* v);

    FileOpener& volumes_;
    lib::Allocator& alloc_;
    Volume vols_[max_volumes];
    View views_[max_views];
};

// The operations behind xl snapshot-*, on one volume whose top is open as
// `top` (a device opened through `opener` by the volume's name):
// Where the top's image ends in the volume (to freeze it there): its
// image_end(), from its file's start. unsupported for raw images.
lib::Result<uint64_t> layer_end(BlockDevice& top);
// Makes a new empty qcow2 top over the current one in v (which becomes
// snapshot `name`) and stores the table. The caller then reopens the
// volume's top. On failure the table is unchanged.
lib::Status chain_snapshot(lib::Allocator& a, ChainOpener& opener, ChainOpener::Volume& v, BlockDevice& top,
                           lib::StrView name, uint64_t created);
// Writes an empty qcow2 overlay for the current top layer of v (after a
// truncate_after or a first push), backed by "<volume>@<below's snapshot>".
lib::Status make_top_overlay(lib::Allocator& a, ChainOpener& opener, ChainOpener::Volume& v,
                             const VolumeChain& chain, uint64_t virtual_size);
// xl snapshot-revert on a volume no device has open: the disk shows the
// snapshot's state again in a fresh top; the layers above it (the snapshots
// taken after it) are given up. not_found when it has no such snapshot.
lib::Status revert_volume(lib::Allocator& a, ChainOpener& opener, ChainOpener::Volume& v, lib::StrView snapshot);
// Copies into `top` every range that `below` (its backing, the layer that
// snapshot froze) holds and top does not, then points top's backing at the
// layer under `below`: the data of the snapshot survives, its layer is no
// longer needed.
lib::Status stream_into_top(lib::Allocator& a, BlockDevice& top, BlockDevice& below, lib::StrView new_backing,
                            lib::StrView new_backing_format);
// xl snapshot-delete: only the newest snapshot of a volume can go (its layer
// is the top's backing): its data is streamed into the top, which is then
// backed by the layer below it, and the table forgets it. `top` is the open
// top device of v. busy (with nothing changed) for an older snapshot.
lib::Status delete_newest_snapshot(lib::Allocator& a, ChainOpener::Volume& v, BlockDevice& top,
                                   lib::StrView snapshot);

}  // namespace vmm::block
