// Packets per second through the device models alone, on the host: two
// virtio-net devices (vmm/virtio/virtio_net over virtio-pci) joined by a
// net::Bridge, each with guest RAM faked by a vector (the unit tests'
// FakeRam) and a driver half written like Linux's virtio_net: guest A posts
// a batch of transmit chains (header and frame in one descriptor, as
// virtio_net does with VERSION_1), kicks once, and guest B reaps its
// mergeable receive buffers and posts them again. Every frame goes through
// A's transmit drain, the bridge's forwarding lookup and B's receive path
// (buffer pop, one copy, used ring, interrupt decision) exactly as in Dom0;
// the kicks go through the PCI bus's BAR decode as forwarded MMIO writes do.
//
// Reference, in the same run: a memcpy of the same bytes per frame, from a
// transmit buffer to a receive buffer of the same fake RAM. Printed: frames
// per second, ns per frame, and how many times the memcpy's rate that is.
// With and without VIRTIO_F_EVENT_IDX, with interrupts per frame.
//
//   net_host_bench [FRAMES]     (default 2,000,000 frames per case)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tests/unit/virtio_fake.hpp"
#include "tests/unit/virtio_pci_driver.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/virtio/virtio_net.hpp"

using namespace vmm::virtio;
using namespace virtio_fake;
namespace nf = vmm::virtio::net_feature;

namespace {

constexpr uint64_t ram_base = 0x100000;
constexpr uint16_t ring = 256;
constexpr unsigned batch = 32;         // frames per kick (Linux batches with xmit_more)
constexpr uint32_t rx_buf_size = 1536;  // a mergeable buffer, as Linux sizes them for MTU 1500
constexpr uint32_t hdr = sizeof(VirtioNetHdr);

uint64_t zero_clock(void*) { return 0; }

struct Guest {
    FakeRam ram{ram_base, 4 << 20};
    FakeIrq irq;
    VirtioNet net;
    VirtioPci vp{net, ram, irq};
    vmm::pci::HostBridge bus;
    PciDriver drv{bus, 0};
    DriverRing rx{ram, ring, ram_base + 0x1000};
    DriverRing tx{ram, ring, ram_base + 0x8000};
    static constexpr uint64_t rx_bufs = ram_base + 0x20000;  // ring buffers of rx_buf_size
    static constexpr uint64_t tx_bufs = ram_base + 0x100000;  // ring buffers of 2 KiB
    uint64_t rx_head_buf[ring] = {};
    uint64_t irqs = 0;

    explicit Guest(const uint8_t* mac) : net(mac, 1) {}

    bool up(vmm::net::Bridge& br, const char* name, bool event_idx)
    {
        if (!vp.init().ok()) return false;
        drv.slot = bus.attach(vp).value();
        drv.probe();
        auto port = br.attach(net, name);
        if (!port) return false;
        net.connect(&br, *port, zero_clock, nullptr);
        drv.enable_msix(4);
        const uint64_t f = feature::version_1 | (event_idx ? feature::event_idx : 0) | nf::mac | nf::mrg_rxbuf |
                           nf::status | nf::csum | nf::guest_csum;
        if (!drv.negotiate(f)) return false;
        drv.wr(drv.common + 16, 2, 0);
        if (!drv.setup_queue(0, rx, 1) || !drv.setup_queue(1, tx, 2)) return false;
        drv.add_status(status::driver_ok);
        for (unsigned i = 0; i < ring; ++i) post_rx(rx_bufs + uint64_t(i) * rx_buf_size);
        drv.kick(0);
        return vp.live();
    }
    void post_rx(uint64_t gpa) { rx_head_buf[rx.add({{gpa, rx_buf_size, true}})] = gpa; }
    // The driver's interrupt handler and NAPI poll: reap, post again, and
    // (with EVENT_IDX) ask for the next interrupt at the next used entry.
    unsigned reap_rx()
    {
        unsigned n = 0;
        const uint16_t used = rx.used_idx();
        while (rx.last_used != used) {
            const auto e = rx.used_elem(rx.last_used++);
            post_rx(rx_head_buf[e.id % ring]);
            ++n;
        }
        rx.set_used_event(rx.last_used);
        if (n) drv.kick(0);
        return n;
    }
    void reap_tx()
    {
        tx.last_used = tx.used_idx();
        tx.set_used_event(tx.last_used);
    }
    void count_irqs()
    {
        irqs += irq.msgs.size();
        irq.msgs.clear();
    }
};

struct Result {
    double seconds;
    uint64_t frames;
    uint64_t delivered;
    uint64_t irqs;  // both guests
};

// A sends `frames` frames of `len` bytes (Ethernet header included, no FCS) to B.
Result run_virtio(uint32_t len, uint64_t frames, bool event_idx)
{
    static const uint8_t mac_a[6] = {0x00, 0x16, 0x3e, 0, 0, 1}, mac_b[6] = {0x00, 0x16, 0x3e, 0, 0, 2};
    vmm::net::Bridge br{"xenbr0"};
    auto* a = new Guest(mac_a);
    auto* b = new Guest(mac_b);
    if (!a->up(br, "vifA", event_idx) || !b->up(br, "vifB", event_idx)) {
        std::fprintf(stderr, "net_host_bench: FAIL: the devices did not come up\n");
        std::exit(1);
    }
    // Frames in A's transmit buffers: header (zero: no offload) then the
    // Ethernet frame to B. One per ring slot, written once.
    for (unsigned i = 0; i < ring; ++i) {
        uint8_t* p = a->ram.at(Guest::tx_bufs + uint64_t(i) * 2048);
        std::memset(p, 0, hdr);
        uint8_t* f = p + hdr;
        std::memcpy(f, mac_b, 6);
        std::memcpy(f + 6, mac_a, 6);
        f[12] = 0x08, f[13] = 0x00;
        for (uint32_t k = 14; k < len; ++k) f[k] = uint8_t(k * 7 + i);
    }
    // B speaks first so the bridge has learnt it (unicast from then on).
    {
        uint8_t* p = b->ram.at(Guest::tx_bufs);
        std::memset(p, 0, hdr);
        std::memcpy(p + hdr, mac_a, 6);
        std::memcpy(p + hdr + 6, mac_b, 6);
        p[hdr + 12] = 0x08, p[hdr + 13] = 0x00;
        b->tx.add({{Guest::tx_bufs, hdr + 60, false}});
        b->drv.kick(1);
        b->reap_tx();
        a->reap_rx();
    }
    a->count_irqs();
    b->count_irqs();
    a->irqs = b->irqs = 0;
    const uint64_t before = br.stats(1).tx_packets;
    unsigned slot = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t sent = 0; sent < frames; sent += batch) {
        for (unsigned k = 0; k < batch; ++k) {
            a->tx.add({{Guest::tx_bufs + uint64_t(slot) * 2048, hdr + len, false}});
            slot = (slot + 1) % ring;
        }
        a->drv.kick(1);
        a->reap_tx();
        b->reap_rx();
        a->count_irqs();
        b->count_irqs();
    }
    const auto t1 = std::chrono::steady_clock::now();
    Result r{std::chrono::duration<double>(t1 - t0).count(), frames, br.stats(1).tx_packets - before,
             a->irqs + b->irqs};
    delete a;
    delete b;
    return r;
}

// The same bytes with memcpy alone: frame i's len bytes from its transmit
// buffer into a receive buffer, ring slots taken in turn as above.
double run_memcpy(uint32_t len, uint64_t frames)
{
    std::vector<uint8_t> mem(4 << 20);
    uint8_t* txb = mem.data() + 0x100000;
    uint8_t* rxb = mem.data() + 0x20000;
    for (size_t i = 0; i < 0x100000; ++i) txb[i] = uint8_t(i * 13);
    unsigned slot = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < frames; ++i) {
        std::memcpy(rxb + uint64_t(slot) * rx_buf_size + hdr, txb + uint64_t(slot) * 2048 + hdr, len);
        asm volatile("" ::"r"(rxb) : "memory");  // keep every copy
        slot = (slot + 1) % ring;
    }
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count();
}

}  // namespace

int main(int argc, char** argv)
{
    const uint64_t frames = argc > 1 ? std::strtoull(argv[1], nullptr, 10) / batch * batch : 2'000'000;
    if (frames == 0) {
        std::fprintf(stderr, "usage: net_host_bench [FRAMES]\n");
        return 2;
    }
    std::printf("net_host_bench: %llu frames per case, %u per kick, guest A -> xenbr0 -> guest B, one thread\n",
                (unsigned long long)frames, batch);
    std::printf("  %-6s %-9s %12s %9s %12s %9s %9s %10s\n", "frame", "event_idx", "frames/s", "ns/frame", "memcpy f/s",
                "ns/frame", "ratio", "irq/frame");
    for (uint32_t len : {64u, 1514u}) {
        for (bool ev : {true, false}) {
            const Result r = run_virtio(len, frames, ev);
            const double m = run_memcpy(len, frames);
            if (r.delivered != frames) {
                std::printf("net_host_bench: FAIL: %llu of %llu frames of %u bytes delivered\n",
                            (unsigned long long)r.delivered, (unsigned long long)frames, len);
                return 1;
            }
            std::printf("  %-6u %-9s %12.0f %9.1f %12.0f %9.1f %8.1fx %10.3f\n", len, ev ? "on" : "off",
                        r.frames / r.seconds, 1e9 * r.seconds / r.frames, frames / m, 1e9 * m / frames,
                        r.seconds / m, double(r.irqs) / r.frames);
        }
    }
    std::printf("  (ratio: time through the device models / time of the memcpy alone)\n");
    std::printf("net_host_bench: done\n");
    return 0;
}
