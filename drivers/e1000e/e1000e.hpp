// An Intel 82574-family GbE controller (QEMU's `-device e1000e`, the
// 82574L/LA and 82583V) as Dom0's uplink NIC. init resets the MAC, takes
// the station address from RAL0/RAH0 (loaded from the EEPROM at reset) or
// reads it through EERD, forces the link up (SLU), and runs one receive and
// one transmit ring of legacy descriptors, each buffer a fixed 2 KiB slot
// of one DMA area. The receiver is promiscuous: as a bridge's uplink it
// carries frames for the guests' MACs. Receive checksum offload is on: a
// frame whose TCP or UDP checksum (and IPv4 header checksum) the card
// verified is handed on as such (rx_checksum_verified), so guests with
// GUEST_CSUM get it DATA_VALID. Nothing is offloaded on transmit: the
// bridge hands the card complete frames. One MSI (with MSI-X on the
// function left off); without MSI the card is polled.
//
// init's errors: `unsupported` for a function that is not one of those
// parts or has no memory BAR0; `busy` for a MAC whose reset does not end
// or an EEPROM that does not answer; `invalid` for a station address that
// is multicast or all zeros.
#pragma once

#include <cstdint>

#include "drivers/e1000e/e1000e_spec.hpp"
#include "drivers/net/nic.hpp"
#include "drivers/pci/pci_function.hpp"
#include "drivers/platform/device_platform.hpp"
#include "lib/result.hpp"

namespace drivers::e1000e {

class E1000eNic final : public Nic {
public:
    static constexpr unsigned rx_slots = 64, tx_slots = 64;  // descriptors per ring
    static constexpr uint32_t slot_bytes = 2048;
    static constexpr size_t min_padded = 17;  // the shortest frame TCTL.PSP pads

    E1000eNic() = default;
    E1000eNic(const E1000eNic&) = delete;
    E1000eNic& operator=(const E1000eNic&) = delete;

    // Whether fn is a part this driver runs.
    static bool supports(pci::Function& fn);
    lib::Status init(pci::Function& fn, DevicePlatform& p);

    const uint8_t* mac() const override { return mac_; }
    bool link_up() override;
    size_t max_frame() const override { return 1518; }  // with one VLAN tag
    lib::Status transmit(const void* frame, size_t len) override;
    unsigned poll(Receive rx, void* ctx) override;
    uint32_t event() const override { return have_event_ ? vector_.event : ~0u; }
    const NicStats& stats() const override { return stats_; }
    // Frames whose checksums the card verified.
    uint64_t rx_verified() const { return rx_verified_; }

private:
    lib::Status reset();
    lib::Status read_mac();
    void setup_rings();
    void reclaim_tx();
    uint32_t rd(uint64_t r) { return regs_->read32(r); }
    void wr(uint64_t r, uint32_t v) { regs_->write32(r, v); }

    DevicePlatform* platform_ = nullptr;
    MmioWindow* regs_ = nullptr;
    DmaBuffer rings_{}, rx_dma_{}, tx_dma_{};
    RxDescriptor* rx_ = nullptr;
    TxDescriptor* tx_ = nullptr;
    unsigned rx_next_ = 0;             // the next descriptor the card fills
    bool rx_discarding_ = false;       // inside a frame that spans descriptors
    unsigned tx_tail_ = 0, tx_clean_ = 0;  // next to use, oldest not reclaimed
    unsigned tx_in_flight_ = 0;
    uint8_t mac_[6] = {};
    bool ready_ = false;
    bool have_event_ = false;
    MsiVector vector_;
    NicStats stats_;
    uint64_t rx_verified_ = 0;
};

}  // namespace drivers::e1000e
