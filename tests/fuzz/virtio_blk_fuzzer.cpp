// libFuzzer target for the virtio-blk device (vmm/virtio/virtio_blk): the
// input is a stream of requests a hostile driver builds in guest RAM,
// served by a raw disk of 64 sectors held in memory. Byte 0: bit 0 the disk
// is writable, bit 1 DISCARD and WRITE_ZEROES negotiated, bit 2 EVENT_IDX,
// bit 3 INDIRECT_DESC. Then each 8 bytes are one request: type (IN, OUT,
// FLUSH, GET_ID, DISCARD, WRITE_ZEROES, 99 or any value), sector (0, 1, last,
// capacity, capacity + 1, 2^64 - 1, 2^55 or a byte), how the 16-byte header
// is cut (whole, 15 bytes, 8 + 8, one descriptor with the data), data
// length (0, 1, 512, 513, 16, 32, 4096 or 16 * byte), how many pieces the
// data is cut into and whether they are device-writable, the status byte
// (writable, read-only, missing, sharing the last data buffer) and where
// the data lies (in RAM, at RAM's end, outside RAM); the data itself is the
// request's bytes repeated, so discard segments get varied fields. The
// device is kicked after each request; a broken queue is reset.
//
// Findings besides crashes and sanitizer reports: a used request whose
// status byte is not OK/IOERR/UNSUPP, a read-only disk that changed, a
// queue error that did not break the queue.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/unit/virtio_fake.hpp"
#include "vmm/block/raw/raw.hpp"
#include "vmm/virtio/virtio_blk.hpp"

namespace {

using namespace vmm::virtio;

constexpr uint64_t ram_base = 0x10000, ram_size = 0x10000;
constexpr uint64_t desc_gpa = ram_base, avail_gpa = ram_base + 0x400, used_gpa = ram_base + 0x800;
constexpr uint64_t hdr_gpa = ram_base + 0x1000, status_gpa = ram_base + 0x1100, data_gpa = ram_base + 0x2000;
constexpr uint16_t qsize = 16;
constexpr uint64_t disk_size = 64 * 512;

[[noreturn]] void finding(const char* what)
{
    std::fprintf(stderr, "virtio_blk_fuzzer: %s\n", what);
    std::abort();
}

using Ram = virtio_fake::FakeRam;  // guest RAM over a vector, as in the unit tests

// A writable file in memory under the raw backend.
struct RamFile final : vmm::block::File {
    uint8_t bytes[disk_size];
    bool rw = false;
    void submit(vmm::block::FileRequest& r) override
    {
        lib::Status s;
        if (r.op == vmm::block::FileOp::read || r.op == vmm::block::FileOp::write) {
            if (r.offset > disk_size || r.len > disk_size - r.offset) s = lib::Error::truncated;
            else if (r.op == vmm::block::FileOp::read) std::memcpy(r.buf, bytes + r.offset, r.len);
            else if (!rw) s = lib::Error::denied;
            else std::memcpy(bytes + r.offset, r.buf, r.len);
        } else if (r.op == vmm::block::FileOp::resize) {
            s = lib::Error::denied;
        }
        if (r.done) r.done(r, s);
    }
    void wait() override {}
    uint64_t size() const override { return disk_size; }
    bool writable() const override { return rw; }
};

struct Opener final : vmm::block::FileOpener {
    lib::Result<vmm::block::File*> open(lib::StrView, lib::StrView, bool) override { return lib::err(lib::Error::not_found); }
    void close(vmm::block::File*) override {}
    lib::StrView resolved_name(vmm::block::File*) override { return "ram"; }
};

struct Heap final : lib::Allocator {
    void* allocate(size_t size, size_t align) override { return std::aligned_alloc(align < 16 ? 16 : align, (size + 15) / 16 * 16); }
    void deallocate(void* p, size_t) override { std::free(p); }
};

// The transport half the device sees: one queue, always live.
struct Transport final : VirtioTransport {
    Ram& r;
    Virtqueue& q;
    uint64_t features;
    Transport(Ram& ram, Virtqueue& vq, uint64_t f) : r(ram), q(vq), features(f) {}
    GuestRam& ram() override { return r; }
    Virtqueue* queue(unsigned n) override { return n == 0 && q.enabled() ? &q : nullptr; }
    bool live() const override { return true; }
    uint64_t negotiated() const override { return features; }
    void queue_used(unsigned) override { (void)q.should_interrupt(); }
    void config_changed() override {}
    void device_error() override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1) return 0;
    static Ram ram(ram_base, ram_size);
    static RamFile file;
    static Heap heap;
    static Opener opener;
    static Virtqueue q;
    const bool writable = data[0] & 1;
    uint64_t features = feature::version_1 | blk_feature::flush;
    if (data[0] & 2) features |= blk_feature::discard | blk_feature::write_zeroes;
    for (uint64_t i = 0; i < disk_size; ++i) file.bytes[i] = uint8_t(i * 7 + 3);
    file.rw = writable;
    std::fill(ram.mem.begin(), ram.mem.end(), 0);
    auto dev = vmm::block::RawDevice::open(heap, opener, file, writable);
    if (!dev) finding("raw open failed");
    VirtioBlk blk(**dev, "fuzz", 1);
    Transport t(ram, q, features);
    blk.bind(&t);
    const bool event_idx = data[0] & 4, indirect = data[0] & 8;
    q.reset();
    if (!q.enable(ram, {qsize, desc_gpa, avail_gpa, used_gpa}, event_idx, indirect).ok()) finding("enable failed");
    uint16_t avail = 0;
    const uint64_t cap = disk_size / 512;

    for (size_t i = 1; i + 8 <= size; i += 8) {
        const uint8_t* b = data + i;
        const uint32_t types[] = {blk_type::in, blk_type::out, blk_type::flush, blk_type::get_id,
                                  blk_type::discard, blk_type::write_zeroes, 99, b[1]};
        const uint64_t sectors[] = {0, 1, cap - 1, cap, cap + 1, ~0ull, 1ull << 55, b[2]};
        const uint32_t lens[] = {0, 1, 512, 513, 16, 32, 4096, 16u * b[4]};
        const uint32_t type = types[b[0] & 7];
        ram.put32(hdr_gpa, type);
        ram.put32(hdr_gpa + 4, 0);
        ram.put64(hdr_gpa + 8, sectors[(b[0] >> 3) & 7]);
        const unsigned hdr_cut = b[3] & 3;
        uint32_t len = lens[(b[3] >> 2) & 7];
        const unsigned pieces = 1 + ((b[5] >> 1) & 3);
        const bool data_w = b[5] & 1;
        const unsigned status_kind = (b[6] & 3);
        const uint64_t data_at[] = {data_gpa, ram_base + ram_size - 64, ram_base + ram_size + 0x1000, 0};
        uint64_t dgpa = data_at[b[7] & 3];
        if (dgpa == data_gpa) {
            if (len > 0x8000) len = 0x8000;
            for (uint32_t k = 0; k < len; ++k) ram.at(data_gpa)[k] = b[k % 8];
        }
        // The chain, in descriptors 0.. (the previous request is done).
        struct D {
            uint64_t a;
            uint32_t l;
            bool w;
        } d[16];
        unsigned n = 0;
        if (hdr_cut == 0) d[n++] = {hdr_gpa, 16, false};
        else if (hdr_cut == 1) d[n++] = {hdr_gpa, 15, false};
        else if (hdr_cut == 2) {
            d[n++] = {hdr_gpa, 8, false};
            d[n++] = {hdr_gpa + 8, 8, false};
        } else {
            // The header right before the data in one readable descriptor.
            std::memcpy(ram.at(data_gpa) + 0x7000, ram.at(hdr_gpa), 16);
            d[n++] = {data_gpa + 0x7000, 16 + (len < 0x800 ? len : 0x800), false};
            len = 0;
        }
        if (len) {
            const uint32_t piece = len / pieces;
            for (unsigned p = 0; p < pieces; ++p) {
                const uint32_t l = p + 1 == pieces ? len - piece * p : piece;
                if (l) d[n++] = {dgpa + uint64_t(piece) * p, l, data_w};
            }
        }
        if (status_kind == 0) d[n++] = {status_gpa, 1, true};
        else if (status_kind == 1) d[n++] = {status_gpa, 1, false};
        else if (status_kind == 3 && n && d[n - 1].w) {
            d[n - 1].l += 1;  // the status byte shares the last data buffer
        }
        for (unsigned k = 0; k < n; ++k) {
            ram.put64(desc_gpa + 16 * k, d[k].a);
            ram.put32(desc_gpa + 16 * k + 8, d[k].l);
            ram.put16(desc_gpa + 16 * k + 12, uint16_t((d[k].w ? desc_f_write : 0) | (k + 1 < n ? desc_f_next : 0)));
            ram.put16(desc_gpa + 16 * k + 14, uint16_t(k + 1));
        }
        if (n == 0) continue;
        ram.put16(avail_gpa + 4 + 2 * (avail % qsize), 0);
        ++avail;
        ram.put16(avail_gpa + 2, avail);
        ram.at(status_gpa)[0] = 0xee;
        const uint16_t used_before = q.used_idx();
        auto s = blk.queue_notify(0);
        if (!s.ok() && !q.broken()) finding("error without a broken queue");
        if (q.broken()) {
            // What the driver does after DEVICE_NEEDS_RESET: start over.
            q.reset();
            std::memset(ram.at(avail_gpa), 0, 0x800);
            avail = 0;
            if (!q.enable(ram, {qsize, desc_gpa, avail_gpa, used_gpa}, event_idx, indirect).ok()) finding("re-enable");
            continue;
        }
        if (q.used_idx() != uint16_t(used_before + 1)) finding("a request was not completed");
        if (status_kind == 0) {
            const uint8_t st = ram.at(status_gpa)[0];
            if (st != blk_status::ok && st != blk_status::ioerr && st != blk_status::unsupp) finding("bad status byte");
        }
    }
    if (!writable)
        for (uint64_t k = 0; k < disk_size; ++k)
            if (file.bytes[k] != uint8_t(k * 7 + 3)) finding("a read-only disk changed");
    (void)(*dev)->close();
    return 0;
}
