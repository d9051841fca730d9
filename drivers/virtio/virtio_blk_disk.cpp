#include "drivers/virtio/virtio_blk_disk.hpp"

#include "lib/log.hpp"
#include "lib/str.hpp"

namespace drivers::virtio {
namespace {

// Feature bits (5.2.3).
constexpr uint64_t f_size_max = 1ull << 1, f_seg_max = 1ull << 2, f_ro = 1ull << 5, f_blk_size = 1ull << 6,
                   f_flush = 1ull << 9;
// Request types and status (5.2.6).
constexpr uint32_t t_in = 0, t_out = 1, t_flush = 4, t_get_id = 8;
constexpr uint8_t s_ok = 0;
// struct virtio_blk_config offsets.
constexpr uint32_t cfg_capacity = 0, cfg_size_max = 8;
// The data moves in 512-byte units whatever the disk's block size (5.2.6).
constexpr uint32_t sector_bytes = 512;
constexpr uint32_t default_max_sectors = 256;  // 128 KiB per request

}  // namespace

lib::Status VirtioBlkDisk::init(pci::Function& fn, DevicePlatform& p)
{
    if (VirtioPciDevice::device_type(fn) != 2) return lib::Error::unsupported;
    platform_ = &p;
    TRY(dev_.init(fn, p));
    uint64_t features = TRY(dev_.negotiate(f_size_max | f_seg_max | f_ro | f_blk_size | f_flush));
    if (dev_.device_config_length() < 12) {
        dev_.set_failed();
        return lib::Error::corrupt;
    }
    // One MSI-X vector for the request queue; without MSI-X the driver polls.
    auto msi = p.bind_msi();
    uint16_t vector = no_vector;
    if (msi) {
        unsigned used = 0;
        if (fn.enable_msix(p, &*msi, 1).ok()) {
            used = 1;
            vector = 0;
        }
        have_event_ = used == 1;
        event_ = msi->event;
    }
    dev_.set_config_vector(no_vector);
    if (auto s = dev_.setup_queue(0, queue_, 128, vector); !s.ok()) {
        dev_.set_failed();
        return s;
    }
    slots_dma_ = TRY(p.alloc_dma(4096));
    unsigned slots = queue_.size() / 3 < max_slots ? queue_.size() / 3 : max_slots;
    free_slots_ = slots >= 32 ? ~0u : (1u << slots) - 1;
    dev_.set_driver_ok();

    info_.sector_size = sector_bytes;
    info_.sectors = dev_.config64(cfg_capacity);
    info_.max_sectors = default_max_sectors;
    if (features & f_size_max) {
        uint32_t size_max = dev_.config32(cfg_size_max);
        if (size_max >= sector_bytes && size_max / sector_bytes < info_.max_sectors)
            info_.max_sectors = size_max / sector_bytes;
    }
    info_.writable = !(features & f_ro);
    info_.volatile_cache = features & f_flush;
    lib::copy_cstr(info_.model, sizeof info_.model, "virtio-blk");
    (void)read_serial();  // optional: devices may not implement GET_ID
    return {};
}

lib::Status VirtioBlkDisk::read_serial()
{
    // 20 bytes, NUL-padded (not terminated when all 20 are used).
    auto buf = TRY(platform_->alloc_dma(4096));
    auto* slot = static_cast<SlotDma*>(slots_dma_.va);
    *slot = {};
    slot->type = t_get_id;
    slot->status = 0xff;
    SplitQueue::Segment segs[3] = {{slots_dma_.bus, 16, false}, {buf.bus, 20, true}, {slots_dma_.bus + 16, 1, true}};
    uint16_t head = TRY(queue_.add(segs, 3));
    if (queue_.needs_notify()) dev_.notify(0);
    uint64_t deadline = platform_->now_ns() + 1'000'000'000ull;
    SplitQueue::Used u{};
    while (!queue_.take_used(u)) {
        if (queue_.broken() || platform_->now_ns() > deadline) return lib::Error::io;
        if (have_event_) (void)platform_->wait_event(event_, 10'000'000);
        else platform_->delay_us(100);
    }
    if (u.head != head || slot->status != s_ok) return lib::Error::unsupported;
    char id[21] = {};
    __builtin_memcpy(id, buf.va, 20);
    lib::copy_cstr(info_.serial, sizeof info_.serial, id);
    return {};
}

lib::Status VirtioBlkDisk::submit(BlockRequest& r)
{
    if (queue_.broken()) return lib::Error::io;
    if (r.op == BlockOp::flush) {
        if (r.sectors) return lib::Error::invalid;
    } else {
        if (r.sectors == 0 || r.sectors > info_.max_sectors || r.lba >= info_.sectors ||
            r.sectors > info_.sectors - r.lba)
            return lib::Error::invalid;
        if (r.op == BlockOp::write && !info_.writable) return lib::Error::denied;
    }
    if (!free_slots_) return lib::Error::busy;
    unsigned s = unsigned(__builtin_ctz(free_slots_));
    auto* slot = static_cast<SlotDma*>(slots_dma_.va) + s;
    uint64_t slot_bus = slots_dma_.bus + s * sizeof(SlotDma);
    slot->type = r.op == BlockOp::read ? t_in : r.op == BlockOp::write ? t_out : t_flush;
    slot->reserved = 0;
    slot->sector = r.op == BlockOp::flush ? 0 : r.lba;
    slot->status = 0xff;  // a device that never writes it reads as an error
    SplitQueue::Segment segs[3];
    unsigned n = 0;
    segs[n++] = {slot_bus, 16, false};
    if (r.op != BlockOp::flush) segs[n++] = {r.bus, r.sectors * sector_bytes, r.op == BlockOp::read};
    segs[n++] = {slot_bus + 16, 1, true};
    if (r.op == BlockOp::flush && !info_.volatile_cache) {
        // Nothing to flush: writes are durable when they complete.
        if (r.done) r.done(r, lib::Status{});
        return {};
    }
    auto head = queue_.add(segs, n);
    if (!head) return head.error();
    free_slots_ &= ~(1u << s);
    in_flight_[*head] = &r;
    slot_of_head_[*head] = uint16_t(s);
    if (!outstanding_++) last_progress_ns_ = platform_->now_ns();
    if (queue_.needs_notify()) dev_.notify(0);
    return {};
}

unsigned VirtioBlkDisk::poll()
{
    unsigned n = 0;
    SplitQueue::Used u{};
    while (queue_.take_used(u)) {
        BlockRequest* r = in_flight_[u.head];
        in_flight_[u.head] = nullptr;
        unsigned s = slot_of_head_[u.head];
        auto* slot = static_cast<SlotDma*>(slots_dma_.va) + s;
        lib::Status st = slot->status == s_ok ? lib::Status{} : lib::Status{lib::Error::io};
        free_slots_ |= 1u << s;
        --outstanding_;
        ++n;
        if (r && r->done) r->done(*r, st);
    }
    if (queue_.broken()) {
        // The device broke the ring: fail what is in flight, refuse the rest.
        for (auto& r : in_flight_)
            if (r) {
                BlockRequest* req = r;
                r = nullptr;
                --outstanding_;
                ++n;
                if (req->done) req->done(*req, lib::Error::io);
            }
    }
    return n;
}

unsigned VirtioBlkDisk::wait(uint64_t timeout_ns)
{
    uint64_t now = platform_->now_ns();
    unsigned n = poll();
    if (!n) {
        if (have_event_) (void)platform_->wait_event(event_, timeout_ns);
        else platform_->delay_us(timeout_ns / 1000 < 100 ? timeout_ns / 1000 : 100);
        n = poll();
    }
    if (n || !outstanding_) {
        last_progress_ns_ = now;
        stall_reported_ = false;
    } else if (!stall_reported_ && now - last_progress_ns_ > 3'000'000'000ull) {
        // Once per stall: what the rings say, for whoever reads the log.
        stall_reported_ = true;
        LOG_WARN("virtio-blk: %u requests without an answer for 3 s: avail %u, used %u (taken %u), used flags %#x, "
                 "status %#x",
                 outstanding_, queue_.avail_index(), queue_.used_index(), queue_.used_seen(), queue_.used_flags(),
                 dev_.device_status());
    }
    return n;
}

}  // namespace drivers::virtio
