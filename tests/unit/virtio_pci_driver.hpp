// The guest side of a virtio-pci function for host tests: what Linux's
// virtio_pci_modern does, through the HostBridge (ECAM config accesses and
// BAR MMIO): BAR sizing and assignment, the vendor-capability walk, the
// device status sequence of 3.1.1, queue setup and MSI-X programming.
#pragma once

#include <cstdint>

#include "tests/unit/virtio_fake.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/virtio/virtio_pci.hpp"

namespace virtio_fake {

struct PciDriver {
    vmm::pci::HostBridge& bus;
    unsigned slot;
    uint64_t bar_base = 0xfe000000ull;
    uint32_t common = ~0u, notify = ~0u, isr = ~0u, device = ~0u, notify_mult = 0, notify_len = 0;
    uint8_t msix_cap = 0, pci_cfg = 0;
    unsigned caps_seen = 0;

    uint32_t cfg(unsigned reg, unsigned size = 4) { return uint32_t(bus.ecam_read(uint64_t(slot) << 15 | reg, size)); }
    void cfg_w(unsigned reg, uint32_t v, unsigned size = 4) { bus.ecam_write(uint64_t(slot) << 15 | reg, size, v); }
    uint64_t rd(uint64_t off, unsigned size)
    {
        uint64_t v = ~0ull;
        if (!bus.bar_read(vmm::pci::Space::memory, bar_base + off, size, v)) return ~0ull;
        return v;
    }
    void wr(uint64_t off, unsigned size, uint64_t v) { bus.bar_write(vmm::pci::Space::memory, bar_base + off, size, v); }

    // BAR4/5 sizing and assignment, decoding on, then the capability walk
    // of virtio_pci_find_capability: every vendor cap, first of each type.
    void probe()
    {
        cfg_w(0x20, 0xffffffffu);
        cfg_w(0x24, 0xffffffffu);
        cfg_w(0x20, uint32_t(bar_base));
        cfg_w(0x24, uint32_t(bar_base >> 32));
        cfg_w(0x04, vmm::pci::cmd_memory | vmm::pci::cmd_bus_master, 2);
        unsigned pos = cfg(0x34, 1) & ~3u;
        for (int ttl = 48; pos >= 0x40 && ttl; --ttl, pos = cfg(pos + 1, 1) & ~3u) {
            ++caps_seen;
            const unsigned id = cfg(pos, 1);
            if (id == vmm::pci::cap_id_msix) msix_cap = uint8_t(pos);
            if (id != vmm::pci::cap_id_vendor) continue;
            const unsigned type = cfg(pos + 3, 1), bar = cfg(pos + 4, 1);
            const uint32_t off = cfg(pos + 8), len = cfg(pos + 12);
            if (bar != 4 && type != vmm::virtio::cap_type::pci) continue;
            auto first = [&](uint32_t& slot_off) { if (slot_off == ~0u) slot_off = off; };
            switch (type) {
            case vmm::virtio::cap_type::common: first(common); break;
            case vmm::virtio::cap_type::notify:
                first(notify);
                notify_mult = cfg(pos + 16);
                notify_len = len;
                break;
            case vmm::virtio::cap_type::isr: first(isr); break;
            case vmm::virtio::cap_type::device: first(device); break;
            case vmm::virtio::cap_type::pci: pci_cfg = uint8_t(pos); break;
            }
        }
    }

    uint8_t status() { return uint8_t(rd(common + 20, 1)); }
    void set_status(uint8_t s) { wr(common + 20, 1, s); }
    void add_status(uint8_t s) { set_status(uint8_t(status() | s)); }
    uint64_t device_features()
    {
        wr(common + 0, 4, 0);
        uint64_t f = rd(common + 4, 4);
        wr(common + 0, 4, 1);
        return f | rd(common + 4, 4) << 32;
    }
    void write_features(uint64_t f)
    {
        wr(common + 8, 4, 0);
        wr(common + 12, 4, uint32_t(f));
        wr(common + 8, 4, 1);
        wr(common + 12, 4, uint32_t(f >> 32));
    }
    // 3.1.1 steps 1-6; true when FEATURES_OK stuck.
    bool negotiate(uint64_t wanted)
    {
        set_status(0);
        if (status() != 0) return false;
        add_status(vmm::virtio::status::acknowledge);
        add_status(vmm::virtio::status::driver);
        write_features(device_features() & wanted);
        add_status(vmm::virtio::status::features_ok);
        return status() & vmm::virtio::status::features_ok;
    }
    // vp_modern_setup_queue / vp_active_vq: size, addresses as two 32-bit
    // halves (vp_iowrite64_twopart), vector, then enable.
    bool setup_queue(uint16_t q, DriverRing& r, uint16_t vector = vmm::virtio::no_vector)
    {
        wr(common + 22, 2, q);
        if (rd(common + 24, 2) < r.size) return false;
        wr(common + 24, 2, r.size);
        for (auto [at, v] : {std::pair<unsigned, uint64_t>{32, r.desc}, {40, r.avail}, {48, r.used}}) {
            wr(common + at, 4, uint32_t(v));
            wr(common + at + 4, 4, uint32_t(v >> 32));
        }
        wr(common + 26, 2, vector);
        if (rd(common + 26, 2) != vector) return false;
        wr(common + 28, 2, 1);
        return rd(common + 28, 2) == 1;
    }
    void kick(uint16_t q)
    {
        wr(common + 22, 2, q);
        const uint64_t off = rd(common + 30, 2);
        wr(notify + off * notify_mult, 2, q);
    }
    // MSI-X: entry v -> address 0xfee00000, data 0x40 + v, unmasked; enable.
    void enable_msix(unsigned vectors)
    {
        const uint32_t table = cfg(msix_cap + 4) & ~7u;
        for (unsigned v = 0; v < vectors; ++v) {
            wr(table + 16 * v, 4, 0xfee00000u);
            wr(table + 16 * v + 4, 4, 0);
            wr(table + 16 * v + 8, 4, 0x40 + v);
            wr(table + 16 * v + 12, 4, 0);
        }
        cfg_w(msix_cap + 2, vmm::pci::msix_ctrl_enable, 2);
    }
};

}  // namespace virtio_fake
