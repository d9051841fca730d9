// libFuzzer target for virtio-net's transmit path (vmm/virtio/virtio_net)
// and everything a transmitted frame goes through: the bridge, the
// receiver's offload handling (checksum completion, software TCP
// segmentation, unsegmented GSO) and its receive buffers. The input is the
// sending guest: its negotiated features, its virtio_net_hdr, its frame
// and the shape of its descriptor chain; plus the receiver's features and
// buffer size. Inputs are short (-max_len=64):
//   byte 0: sender features: bit 0 CSUM, 1 HOST_TSO4, 2 HOST_TSO6, 3
//           EVENT_IDX, 4 INDIRECT_DESC
//   byte 1: receiver features: bit 0 GUEST_CSUM, 1 GUEST_TSO4, 2 GUEST_TSO6,
//           3 MRG_RXBUF; bits 5:4 receive buffer size (64, 256, 1536, 4096)
//   byte 2: frame length = value * 67 (0 .. 17085 bytes)
//   byte 3: bits 1:0 chain shape (header and frame in one buffer, two
//           buffers, the header split over two, a writable buffer last);
//           bit 2 the frame starts from an IPv6 template, else IPv4 (both
//           Ethernet + IP + TCP); bits 7:3 where the rest of the input
//           overlays the frame (value * 4)
//   bytes 4-15: the virtio_net_hdr
//   the rest: bytes written over the frame template.
// Besides crashes and sanitizer reports, a finding is: a used element
// longer than its buffer, a packet's num_buffers that does not match the
// buffers used, or a transmit chain neither returned nor breaking the
// device.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tests/unit/virtio_fake.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/virtio/virtio_net.hpp"

namespace {

using namespace vmm::virtio;

[[noreturn]] void finding(const char* what)
{
    std::fprintf(stderr, "virtio_net_tx_fuzzer: %s\n", what);
    std::abort();
}

using Ram = virtio_fake::FakeRam;  // guest RAM over a vector, as in the unit tests

// The transport as VirtioPci presents it to a device, without PCI.
struct Transport final : VirtioTransport {
    Ram& r;
    Virtqueue q[3];
    uint64_t features;
    bool broken = false;
    Transport(Ram& ram, uint64_t f) : r(ram), features(f) {}
    GuestRam& ram() override { return r; }
    Virtqueue* queue(unsigned i) override { return i < 3 && q[i].enabled() ? &q[i] : nullptr; }
    bool live() const override { return !broken; }
    uint64_t negotiated() const override { return features; }
    void queue_used(unsigned i) override { (void)q[i].should_interrupt(); }
    void config_changed() override {}
    void device_error() override { broken = true; }
};

struct Ring {
    uint64_t desc, avail, used;
    uint16_t size;
};

void set_desc(Ram& ram, const Ring& r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    ram.put64(r.desc + 16 * i, addr);
    ram.put32(r.desc + 16 * i + 8, len);
    ram.put16(r.desc + 16 * i + 12, flags);
    ram.put16(r.desc + 16 * i + 14, next);
}

void publish(Ram& ram, const Ring& r, uint16_t slot, uint16_t head)
{
    ram.put16(r.avail + 4 + 2 * (slot % r.size), head);
    ram.put16(r.avail + 2, uint16_t(slot + 1));
}

const uint8_t ipv4_tcp[54] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0, 0, 1, 0x08, 0x00,  // Ethernet, broadcast
    0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,  // IPv4, TCP
    0x9c, 0x40, 0, 80, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0x50, 0x19, 0xff, 0xff, 0, 0, 0, 0};
const uint8_t ipv6_tcp[74] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0, 0, 1, 0x86, 0xdd,  // Ethernet, broadcast
    0x60, 0, 0, 0, 0, 0, 6, 64, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,  // IPv6, TCP
    0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    0x9c, 0x40, 0, 80, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0x50, 0x99, 0xff, 0xff, 0, 0, 0, 0};

uint64_t no_clock(void*) { return 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 16) return 0;
    namespace nf = net_feature;
    const uint8_t fa = data[0], fb = data[1];
    uint64_t feat_a = feature::version_1;
    if (fa & 1) feat_a |= nf::csum;
    if (fa & 2) feat_a |= nf::host_tso4;
    if (fa & 4) feat_a |= nf::host_tso6;
    if (fa & 8) feat_a |= feature::event_idx;
    if (fa & 16) feat_a |= feature::indirect_desc;
    uint64_t feat_b = feature::version_1 | feature::event_idx;
    if (fb & 1) feat_b |= nf::guest_csum;
    if (fb & 2) feat_b |= nf::guest_tso4;
    if (fb & 4) feat_b |= nf::guest_tso6;
    if (fb & 8) feat_b |= nf::mrg_rxbuf;
    static constexpr uint32_t buf_sizes[4] = {64, 256, 1536, 4096};
    const uint32_t rx_buf = buf_sizes[(fb >> 4) & 3];
    const uint32_t frame_len = uint32_t(data[2]) * 67;
    const uint8_t shape = data[3] & 3;
    const bool v6 = data[3] & 4;
    const size_t overlay_at = size_t(data[3] >> 3) * 4;

    // The sender: 64 KiB of RAM at 1 MiB, a 16-entry transmit ring.
    Ram ram_a(0x100000, 0x10000);
    const Ring tx{0x100000, 0x100400, 0x100800, 16};
    const uint64_t hdr_gpa = 0x101000, frame_gpa = 0x101100;
    std::memcpy(ram_a.at(hdr_gpa), data + 4, 12);
    uint8_t* frame = ram_a.at(frame_gpa);
    for (uint32_t i = 0; i < frame_len; ++i) frame[i] = uint8_t(i * 13 + 7);
    const uint8_t* tmpl = v6 ? ipv6_tcp : ipv4_tcp;
    const size_t tmpl_len = v6 ? sizeof ipv6_tcp : sizeof ipv4_tcp;
    std::memcpy(frame, tmpl, tmpl_len < frame_len ? tmpl_len : frame_len);
    for (size_t i = 16; i < size && overlay_at + (i - 16) < frame_len; ++i) frame[overlay_at + (i - 16)] = data[i];
    // The frame buffer holds the header too when the chain is one buffer.
    if (shape == 0) {
        std::memmove(ram_a.at(hdr_gpa + 12), frame, frame_len);
        set_desc(ram_a, tx, 0, hdr_gpa, 12 + frame_len, 0, 0);
    } else if (shape == 1 || shape == 3) {
        set_desc(ram_a, tx, 0, hdr_gpa, 12, desc_f_next, 1);
        set_desc(ram_a, tx, 1, frame_gpa, frame_len, shape == 3 ? desc_f_write : 0, 0);
    } else {
        set_desc(ram_a, tx, 0, hdr_gpa, 5, desc_f_next, 1);
        set_desc(ram_a, tx, 1, hdr_gpa + 5, 7, desc_f_next, 2);
        set_desc(ram_a, tx, 2, frame_gpa, frame_len, 0, 0);
    }
    publish(ram_a, tx, 0, 0);

    // The receiver: 64 buffers of rx_buf bytes on a 64-entry ring.
    Ram ram_b(0x100000, 0x4000 + 64 * 4096);
    const Ring rx{0x100000, 0x100400, 0x100800, 64};
    for (uint16_t i = 0; i < 64; ++i) {
        set_desc(ram_b, rx, i, 0x104000 + uint64_t(i) * rx_buf, rx_buf, desc_f_write, 0);
        publish(ram_b, rx, i, i);
    }

    const uint8_t mac_a[6] = {0x00, 0x16, 0x3e, 0, 0, 1}, mac_b[6] = {0x00, 0x16, 0x3e, 0, 0, 2};
    vmm::net::Bridge br("xenbr0");
    VirtioNet a(mac_a, 1), b(mac_b, 1);
    Transport ta(ram_a, feat_a), tb(ram_b, feat_b);
    a.bind(&ta);
    b.bind(&tb);
    if (!ta.q[1].enable(ram_a, {tx.size, tx.desc, tx.avail, tx.used}, feat_a & feature::event_idx,
                        feat_a & feature::indirect_desc).ok())
        finding("cannot enable the transmit queue");
    if (!tb.q[0].enable(ram_b, {rx.size, rx.desc, rx.avail, rx.used}, true, false).ok())
        finding("cannot enable the receive queue");
    a.connect(&br, br.attach(a, "a").value(), no_clock, nullptr);
    b.connect(&br, br.attach(b, "b").value(), no_clock, nullptr);

    const bool ok = a.queue_notify(1).ok() && !ta.q[1].broken();
    if (ok && ram_a.get16(tx.used + 2) != 1) finding("transmit chain not returned");
    if (!ok && !ta.q[1].broken()) finding("an error that does not break the queue");

    // What the receiver got: every element within its buffer, packets
    // made of num_buffers elements.
    if (!tb.broken) {
        const uint16_t used = ram_b.get16(rx.used + 2);
        uint16_t k = 0;
        while (k < used) {
            const uint32_t id = ram_b.get32(rx.used + 4 + 8 * k), len = ram_b.get32(rx.used + 4 + 8 * k + 4);
            if (id >= 64 || len > rx_buf || len < 12) finding("bad first used element");
            const uint16_t nb = ram_b.get16(0x104000 + uint64_t(id) * rx_buf + 10);
            if (nb == 0 || (!(feat_b & nf::mrg_rxbuf) && nb != 1)) finding("bad num_buffers");
            if (nb > 1 && len != rx_buf) finding("a buffer before the last not filled");
            for (uint16_t j = 1; j < nb; ++j) {
                if (k + j >= used) finding("num_buffers past the used buffers");
                const uint32_t l2 = ram_b.get32(rx.used + 4 + 8 * (k + j) + 4);
                if (l2 > rx_buf) finding("used element longer than its buffer");
                if (j + 1 < nb && l2 != rx_buf) finding("a buffer before the last not filled");
            }
            k = uint16_t(k + nb);
        }
    }
    return 0;
}
