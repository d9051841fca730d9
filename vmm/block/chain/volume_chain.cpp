#include "vmm/block/chain/volume_chain.hpp"

#include <cstring>

#include "lib/crc32.hpp"
#include "lib/format.hpp"
#include "vmm/block/buffer.hpp"
#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block {
namespace {

constexpr uint8_t chain_magic[8] = {'H', 'V', 'C', 'H', 'A', 'I', 'N', '1'};
constexpr uint32_t chain_version = 1;

uint32_t copy_crc(const uint8_t* copy)
{
    // The CRC field counts as zero.
    constexpr size_t at = offsetof(ChainTableHeader, crc32);
    const uint8_t zero[4] = {};
    uint32_t c = lib::crc32(copy, at);
    c = lib::crc32(zero, sizeof zero, c);
    return lib::crc32(copy + at + 4, VolumeChain::copy_bytes - at - 4, c);
}

bool chain_format(uint8_t f) { return f == uint8_t(Format::qcow2) || f == uint8_t(Format::vpc); }

lib::Result<Format> device_format(BlockDevice& d)
{
    const lib::StrView n = d.format_name();
    if (n == "qcow2") return Format::qcow2;
    if (n == "vpc") return Format::vpc;
    return lib::err(lib::Error::unsupported);  // raw fills its volume
}

}  // namespace

bool VolumeChain::valid_name(lib::StrView s)
{
    if (s.empty() || s.size() >= snapshot_name_size || s[0] == '.') return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '+' || c == '-';
        if (!ok) return false;
    }
    return true;
}

int VolumeChain::find(lib::StrView snapshot) const
{
    if (snapshot.empty()) return -1;
    for (uint32_t i = 0; i + 1 < count_; ++i)
        if (lib::StrView(layers_[i].snapshot) == snapshot) return int(i);
    return -1;
}

lib::Status VolumeChain::parse(const uint8_t* copy, uint64_t volume_size, const char** detail)
{
    auto bad = [&](const char* why) {
        if (detail) *detail = why;
        return lib::Status(lib::Error::corrupt);
    };
    ChainTableHeader h;
    std::memcpy(&h, copy, sizeof h);
    if (h.version.get() != chain_version) return bad("snapshot table: unknown version");
    const uint32_t n = h.layer_count.get();
    if (n == 0 || n > max_layers) return bad("snapshot table: layer count out of range");
    const uint64_t table_at = table_offset(volume_size);
    Layer parsed[max_layers];
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < n; ++i) {
        ChainLayerRecord r;
        std::memcpy(&r, copy + sizeof h + i * sizeof r, sizeof r);
        Layer& l = parsed[i];
        l.offset = r.offset.get();
        l.length = r.length.get();
        l.created = r.created.get();
        if (!chain_format(r.format)) return bad("snapshot table: a layer's format is not qcow2 or vhd");
        l.format = Format(r.format);
        if (l.length == 0 || l.offset < prev_end || l.offset > table_at || l.length > table_at - l.offset)
            return bad("snapshot table: layers out of order, overlapping or outside the volume");
        prev_end = l.offset + l.length;
        bool terminated = false;
        for (char ch : r.snapshot) terminated |= ch == 0;
        if (!terminated) return bad("snapshot table: name not terminated");
        std::memcpy(l.snapshot, r.snapshot, sizeof l.snapshot);
        const bool is_top = i + 1 == n;
        if (is_top) {
            if (l.snapshot[0] || l.created) return bad("snapshot table: the top layer has a snapshot name");
            if (l.offset + l.length != table_at) return bad("snapshot table: the top layer does not reach the table");
        } else {
            if (!valid_name(l.snapshot)) return bad("snapshot table: invalid snapshot name");
            for (uint32_t j = 0; j < i; ++j)
                if (lib::StrView(parsed[j].snapshot) == lib::StrView(l.snapshot)) return bad("snapshot table: duplicate name");
        }
        if (i > 0 && l.format != Format::qcow2) return bad("snapshot table: an overlay is not qcow2");
    }
    for (uint32_t i = 0; i < n; ++i) layers_[i] = parsed[i];
    count_ = n;
    generation_ = h.generation.get();
    return {};
}

void VolumeChain::encode(uint8_t* copy) const
{
    std::memset(copy, 0, copy_bytes);
    ChainTableHeader h{};
    std::memcpy(h.magic, chain_magic, sizeof h.magic);
    h.version.set(chain_version);
    h.layer_count.set(count_);
    h.generation.set(generation_);
    std::memcpy(copy, &h, sizeof h);
    for (uint32_t i = 0; i < count_; ++i) {
        ChainLayerRecord r{};
        r.offset.set(layers_[i].offset);
        r.length.set(layers_[i].length);
        r.created.set(layers_[i].created);
        r.format = uint8_t(layers_[i].format);
        std::memcpy(r.snapshot, layers_[i].snapshot, sizeof r.snapshot);
        std::memcpy(copy + sizeof h + i * sizeof r, &r, sizeof r);
    }
    Be32 crc;
    crc.set(copy_crc(copy));
    std::memcpy(copy + offsetof(ChainTableHeader, crc32), &crc, sizeof crc);
}

lib::Status VolumeChain::load(File& volume, const char** detail)
{
    stored_ = false;
    const uint64_t size = volume.size();
    if (size < table_bytes + layer_align) return lib::Error::not_found;
    uint8_t buf[table_bytes];
    TRY(file_read(volume, table_offset(size), buf, sizeof buf));
    int best = -1;
    uint64_t best_gen = 0;
    unsigned torn = 0;
    for (unsigned c = 0; c < 2; ++c) {
        const uint8_t* p = buf + c * copy_bytes;
        if (std::memcmp(p, chain_magic, sizeof chain_magic) != 0) continue;
        ChainTableHeader h;
        std::memcpy(&h, p, sizeof h);
        if (h.crc32.get() != copy_crc(p)) {
            ++torn;  // a store cut short: the other copy is the table
            continue;
        }
        if (best < 0 || h.generation.get() > best_gen) {
            best = int(c);
            best_gen = h.generation.get();
        }
    }
    if (best < 0) {
        // Both copies damaged cannot come from one cut-short store.
        if (torn == 2) {
            if (detail) *detail = "snapshot table: both copies are damaged";
            return lib::Error::corrupt;
        }
        return lib::Error::not_found;  // a plain image (or its first table never landed)
    }
    // A copy that passes its CRC but breaks a rule was written so: refused,
    // not passed over for the older copy.
    TRY(parse(buf + unsigned(best) * copy_bytes, size, detail));
    current_copy_ = unsigned(best);
    stored_ = true;
    return {};
}

lib::Status VolumeChain::store(File& volume)
{
    const uint64_t size = volume.size();
    uint8_t buf[table_bytes];
    ++generation_;
    if (!stored_) {
        // The first table: copy 0, and copy 1 cleared of whatever the
        // volume held there.
        encode(buf);
        std::memset(buf + copy_bytes, 0, copy_bytes);
        if (auto s = file_write(volume, table_offset(size), buf, sizeof buf); !s) {
            --generation_;
            return s;
        }
        current_copy_ = 0;
    } else {
        const unsigned next = 1 - current_copy_;
        encode(buf);
        if (auto s = file_write(volume, table_offset(size) + next * copy_bytes, buf, copy_bytes); !s) {
            --generation_;
            return s;
        }
        current_copy_ = next;
    }
    stored_ = true;
    return file_flush(volume);
}

lib::Status VolumeChain::restore(File& volume, const VolumeChain& previous)
{
    if (previous.stored_) {
        // Into the copy the change went to: the other one holds `previous`
        // already, so a torn write here leaves it too.
        *this = previous;
        return store(volume);
    }
    uint8_t zero[table_bytes] = {};
    TRY(file_write(volume, table_offset(volume.size()), zero, sizeof zero));
    *this = previous;
    return file_flush(volume);
}

void VolumeChain::reset_plain(uint64_t volume_size, Format f)
{
    for (auto& l : layers_) l = Layer{};
    count_ = 1;
    layers_[0].offset = 0;
    layers_[0].length = volume_size >= table_bytes ? table_offset(volume_size) : 0;
    layers_[0].format = f;
    generation_ = 0;
    stored_ = false;
}

lib::Status VolumeChain::push(lib::StrView snapshot, uint64_t frozen_end, Format frozen_format, uint64_t created,
                              uint64_t volume_size)
{
    if (!valid_name(snapshot)) return lib::Error::invalid;
    if (find(snapshot) >= 0) return lib::Error::exists;
    if (count_ == 0 || count_ >= max_layers) return lib::Error::out_of_range;
    Layer& top = layers_[count_ - 1];
    const uint64_t table_at = table_offset(volume_size);
    if (frozen_end <= top.offset || frozen_end > table_at) return lib::Error::invalid;
    const uint64_t next = align_up(frozen_end, layer_align);
    if (next > table_at || table_at - next < min_overlay_bytes) return lib::Error::out_of_range;
    top.length = frozen_end - top.offset;
    top.created = created;
    top.format = frozen_format;
    lib::copy_cstr(top.snapshot, sizeof top.snapshot, snapshot);
    Layer& n = layers_[count_++];
    n = Layer{};
    n.offset = next;
    n.length = table_at - next;
    n.format = Format::qcow2;
    return {};
}

lib::Status VolumeChain::truncate_after(uint32_t i, uint64_t volume_size)
{
    if (i + 1 >= count_) return lib::Error::invalid;  // only a frozen layer has a snapshot to go back to
    Layer& t = layers_[i + 1];
    const uint64_t at = t.offset;
    t = Layer{};
    t.offset = at;
    t.length = table_offset(volume_size) - at;
    t.format = Format::qcow2;
    for (uint32_t j = i + 2; j < count_; ++j) layers_[j] = Layer{};
    count_ = i + 2;
    return {};
}

lib::Status VolumeChain::remove(uint32_t i)
{
    if (i + 1 >= count_) return lib::Error::invalid;  // the top stays
    for (uint32_t j = i; j + 1 < count_; ++j) layers_[j] = layers_[j + 1];
    layers_[--count_] = Layer{};
    return {};
}

// --- ChainOpener -----------------------------------------------------------

ChainOpener::~ChainOpener()
{
    for (View& w : views_)
        if (w.file) close(w.file);
    for (Volume& v : vols_)
        if (v.file) {
            volumes_.close(v.file);
            v = Volume{};
        }
}

ChainOpener::Volume* ChainOpener::volume(lib::StrView name)
{
    for (Volume& v : vols_)
        if (v.file && lib::StrView(v.name) == name) return &v;
    return nullptr;
}

lib::Result<ChainOpener::Volume*> ChainOpener::acquire(lib::StrView name, lib::StrView relative_to, bool writable)
{
    auto share = [&](Volume* v) -> lib::Result<Volume*> {
        if (writable && !v->writable) return lib::err(lib::Error::busy);
        ++v->refs;
        return v;
    };
    if (Volume* v = volume(name)) return share(v);
    Volume* slot = nullptr;
    for (Volume& v : vols_)
        if (!v.file) {
            slot = &v;
            break;
        }
    if (!slot) return lib::err(lib::Error::no_memory);
    if (name.size() >= sizeof slot->name) return lib::err(lib::Error::invalid);
    File* f = TRY(volumes_.open(name, relative_to, writable));
    const lib::StrView resolved = volumes_.resolved_name(f);
    if (Volume* v = volume(resolved)) {  // the same volume by another name
        volumes_.close(f);
        return share(v);
    }
    *slot = Volume{};
    lib::copy_cstr(slot->name, sizeof slot->name, resolved.size() < sizeof slot->name ? resolved : name);
    slot->file = f;
    slot->writable = writable;
    const char* detail = nullptr;
    auto s = slot->chain.load(*f, &detail);
    if (!s && s.error() != lib::Error::not_found) {
        volumes_.close(f);
        *slot = Volume{};
        return lib::err(s.error());
    }
    slot->has_table = s.ok();
    if (!slot->has_table) slot->chain.reset_plain(f->size(), Format::automatic);
    slot->refs = 1;
    return slot;
}

void ChainOpener::drop(Volume* v)
{
    if (!v || v->refs == 0) return;
    if (--v->refs == 0) {
        volumes_.close(v->file);
        *v = Volume{};
    }
}

lib::Result<ChainOpener::Volume*> ChainOpener::hold(lib::StrView name, bool writable) { return acquire(name, {}, writable); }

void ChainOpener::release(Volume* v) { drop(v); }

lib::Result<File*> ChainOpener::view(Volume& v, uint64_t offset, uint64_t length, bool writable)
{
    if (writable && !v.writable) return lib::err(lib::Error::denied);
    if (offset > v.file->size() || length > v.file->size() - offset) return lib::err(lib::Error::out_of_range);
    View* w = nullptr;
    for (View& x : views_)
        if (!x.file) {
            w = &x;
            break;
        }
    if (!w) return lib::err(lib::Error::no_memory);
    w->file = make_in<PartitionFile>(alloc_, *v.file, offset, length, writable);
    if (!w->file) return lib::err(lib::Error::no_memory);
    w->volume = &v;
    w->name[0] = 0;
    ++v.refs;
    return static_cast<File*>(w->file);
}

lib::Result<File*> ChainOpener::open(lib::StrView name, lib::StrView relative_to, bool writable)
{
    // A layer's backing names its volume; other names are relative to the
    // volume of the image naming them.
    lib::StrView base = relative_to;
    base = base.split_first('@');
    lib::StrView rest = name;
    const lib::StrView vol_name = rest.split_first('@');
    const bool frozen = name.find('@') != lib::StrView::npos;
    if (frozen && rest.empty()) return lib::err(lib::Error::invalid);
    if (frozen && writable) return lib::err(lib::Error::denied);  // a snapshot's layer is never written
    Volume* v = TRY(acquire(vol_name, base, writable));
    uint64_t off = 0, len = v->file->size();
    if (frozen) {
        const int i = v->has_table ? v->chain.find(rest) : -1;
        if (i < 0) {
            drop(v);
            return lib::err(lib::Error::not_found);
        }
        off = v->chain.layer(uint32_t(i)).offset;
        len = v->chain.layer(uint32_t(i)).length;
    } else if (v->has_table) {
        off = v->chain.top().offset;
        len = v->chain.top().length;
    }
    auto f = view(*v, off, len, writable);
    drop(v);  // the view holds it now
    if (!f) return f;
    for (View& w : views_)
        if (w.file == *f) {
            if (frozen) lib::format(w.name, sizeof w.name, "%s@%.*s", v->name, int(rest.size()), rest.data());
            else lib::copy_cstr(w.name, sizeof w.name, v->name);
        }
    return f;
}

void ChainOpener::close(File* f)
{
    for (View& w : views_)
        if (w.file && static_cast<File*>(w.file) == f) {
            Volume* v = w.volume;
            destroy_in(alloc_, w.file);
            w = View{};
            drop(v);
            return;
        }
}

lib::StrView ChainOpener::resolved_name(File* f)
{
    for (View& w : views_)
        if (w.file && static_cast<File*>(w.file) == f) return w.name;
    return {};
}

// --- The snapshot operations -------------------------------------------------

lib::Result<uint64_t> layer_end(BlockDevice& top) { return top.image_end(); }

lib::Status make_top_overlay(lib::Allocator& a, ChainOpener& opener, ChainOpener::Volume& v,
                             const VolumeChain& chain, uint64_t virtual_size)
{
    if (chain.count() < 2) return lib::Error::invalid;
    const auto& below = chain.layer(chain.count() - 2);
    char backing[sizeof v.name + 1 + snapshot_name_size];
    lib::format(backing, sizeof backing, "%s@%s", v.name, below.snapshot);
    File* f = TRY(opener.view(v, chain.top().offset, chain.top().length, true));
    qcow2::CreateOptions o;
    o.size = virtual_size;
    o.backing_file = backing;
    o.backing_format = format_name(below.format);
    auto s = qcow2::create(a, *f, o);
    if (s) s = file_flush(*f);
    opener.close(f);
    return s;
}

lib::Status chain_snapshot(lib::Allocator& a, ChainOpener& opener, ChainOpener::Volume& v, BlockDevice& top,
                           lib::StrView name, uint64_t created)
{
    if (!v.writable || top.read_only()) return lib::Error::denied;
    const Format fmt = TRY(device_format(top));
    TRY(top.flush());  // what the guest wrote is in the layer being frozen
    const uint64_t end = TRY(layer_end(top));
    VolumeChain next = v.chain;
    const uint64_t size = v.file->size();
    TRY(next.push(name, next.top().offset + end, fmt, created, size));
    // The overlay goes into free space first; only the table's store makes
    // it part of the volume.
    TRY(make_top_overlay(a, opener, v, next, top.size()));
    TRY(next.store(*v.file));
    v.chain = next;
    v.has_table = true;
    return {};
}

lib::Status revert_volume(lib::Allocator& a, ChainOpener& opener, ChainOpener::Volume& v, lib::StrView snapshot)
{
    if (!v.writable) return lib::Error::denied;
    const int i = v.has_table ? v.chain.find(snapshot) : -1;
    if (i < 0) return lib::Error::not_found;
    // The disk's size: the snapshot's own layer says it.
    char frozen[sizeof v.name + 1 + snapshot_name_size];
    lib::format(frozen, sizeof frozen, "%s@%.*s", v.name, int(snapshot.size()), snapshot.data());
    OpenOptions o;
    o.open_backing = false;
    o.format = v.chain.layer(uint32_t(i)).format;
    BlockDevice* d = TRY(open_image(a, opener, frozen, {}, o));
    const uint64_t size = d->size();
    (void)d->close();
    VolumeChain next = v.chain;
    TRY(next.truncate_after(uint32_t(i), v.file->size()));
    TRY(make_top_overlay(a, opener, v, next, size));
    TRY(next.store(*v.file));
    v.chain = next;
    return {};
}

lib::Status stream_into_top(lib::Allocator& a, BlockDevice& top, BlockDevice& below, lib::StrView new_backing,
                            lib::StrView new_backing_format)
{
    if (lib::StrView(top.format_name()) != "qcow2" || top.read_only()) return lib::Error::unsupported;
    constexpr size_t chunk = 64 * 1024;
    Buffer buf = TRY(Buffer::make(a, chunk));
    const uint64_t size = top.size() < below.size() ? top.size() : below.size();
    for (uint64_t off = 0; off < size;) {
        Extent t;
        TRY(top.extent_at(off, size - off, t));
        if (t.length == 0) return lib::Error::corrupt;
        const uint64_t end = off + t.length;
        if (t.state != ExtentState::unallocated) {
            off = end;
            continue;
        }
        // Where the top shows `below` through, what below holds itself moves
        // up; what below shows through from its own backing stays visible
        // through the new backing.
        while (off < end) {
            Extent b;
            TRY(below.extent_at(off, end - off, b));
            if (b.length == 0) return lib::Error::corrupt;
            if (b.state == ExtentState::data) {
                for (uint64_t p = off; p < off + b.length;) {
                    const size_t n = size_t(off + b.length - p < chunk ? off + b.length - p : chunk);
                    TRY(below.read(p, buf.data(), n));
                    TRY(top.write(p, buf.data(), n));
                    p += n;
                }
            } else if (b.state == ExtentState::zero) {
                TRY(top.write_zeroes(off, b.length));
            }
            off += b.length;
        }
    }
    TRY(top.flush());
    return static_cast<qcow2::Device&>(top).set_backing_name(new_backing, new_backing_format);
}

lib::Status delete_newest_snapshot(lib::Allocator& a, ChainOpener::Volume& v, BlockDevice& top,
                                   lib::StrView snapshot)
{
    const int i = v.has_table ? v.chain.find(snapshot) : -1;
    if (i < 0) return lib::Error::not_found;
    if (uint32_t(i) + 2 != v.chain.count()) return lib::Error::busy;
    if (!v.writable) return lib::Error::denied;
    BlockDevice* below = top.backing();
    if (!below) return lib::Error::corrupt;  // an overlay always has its layer below
    // The top's new backing is what the snapshot's layer was backed by: the
    // layer under it, or for layer 0 the image's own backing file (if any).
    char name[sizeof v.name + 1 + snapshot_name_size] = "";
    const char* fmt = "";
    if (i > 0) {
        const auto& under = v.chain.layer(uint32_t(i) - 1);
        lib::format(name, sizeof name, "%s@%s", v.name, under.snapshot);
        fmt = format_name(under.format);
    } else if (lib::StrView(below->format_name()) == "qcow2") {
        auto& q = static_cast<qcow2::Device&>(*below);
        lib::copy_cstr(name, sizeof name, q.backing_name());
        fmt = q.backing_format();
    } else if (below->backing()) {
        return lib::Error::unsupported;  // a differencing VHD as layer 0
    }
    TRY(stream_into_top(a, top, *below, name, fmt));
    // The top no longer needs the layer; the table forgets it. Its space is
    // not reused while layers above it exist.
    VolumeChain next = v.chain;
    TRY(next.remove(uint32_t(i)));
    TRY(next.store(*v.file));
    v.chain = next;
    return {};
}

}  // namespace vmm::block
