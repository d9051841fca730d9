// A virtio 1.x device behind the PCI modern transport (virtio 1.x section
// 4.1), from the driver's side: the vendor capabilities that place the
// common, notify, ISR and device-specific structures in BARs, the status and
// feature handshake of 3.1.1, queue setup with an MSI-X vector each, and
// notifications. Transitional devices (QEMU's 1af4:1000-103f) work through
// their modern capabilities; legacy-only devices are refused.
#pragma once

#include <cstdint>

#include "drivers/pci/pci_function.hpp"
#include "drivers/platform/device_platform.hpp"
#include "drivers/virtio/split_queue.hpp"
#include "lib/result.hpp"

namespace drivers::virtio {

inline constexpr uint64_t feature_version_1 = 1ull << 32;
inline constexpr uint16_t no_vector = 0xffff;

namespace status {
inline constexpr uint8_t acknowledge = 1, driver = 2, driver_ok = 4, features_ok = 8, needs_reset = 64, failed = 128;
}

class VirtioPciDevice {
public:
    // The device type (virtio 1.x section 5: 2 block, 1 network), or 0 when
    // the function is not a virtio device.
    static uint16_t device_type(pci::Function& fn);

    // Finds and maps the structures, then resets the device.
    lib::Status init(pci::Function& fn, DevicePlatform& p);
    // Acknowledge, driver, features (VERSION_1 always, plus those of `wanted`
    // the device offers), FEATURES_OK read back. The negotiated set.
    lib::Result<uint64_t> negotiate(uint64_t wanted);
    uint16_t queue_count();
    // Queue `index` at up to `max` entries (the device's size caps it).
    lib::Status setup_queue(uint16_t index, SplitQueue& q, uint16_t max, uint16_t msix_vector);
    // Configuration-change interrupts (no_vector: none).
    void set_config_vector(uint16_t msix_vector);
    void notify(uint16_t index);
    void set_driver_ok();
    void set_failed();
    uint8_t device_status();
    // Reading the ISR status acknowledges it (the legacy-INTx path).
    uint8_t isr();
    uint8_t config8(uint32_t off) { return device_->read8(device_off_ + off); }
    uint16_t config16(uint32_t off) { return device_->read16(device_off_ + off); }
    uint32_t config32(uint32_t off) { return device_->read32(device_off_ + off); }
    // A 64-bit field read consistently (config generation unchanged).
    uint64_t config64(uint32_t off);
    uint32_t device_config_length() const { return device_len_; }

private:
    struct Window {
        MmioWindow* mmio;
        uint64_t off;
    };
    lib::Result<Window> map_structure(pci::Function& fn, DevicePlatform& p, uint8_t cap);

    static constexpr uint16_t max_queues = 16;
    DevicePlatform* platform_ = nullptr;
    MmioWindow* common_ = nullptr;
    MmioWindow* notify_ = nullptr;
    MmioWindow* isr_ = nullptr;
    MmioWindow* device_ = nullptr;
    uint64_t common_off_ = 0, notify_off_ = 0, isr_off_ = 0, device_off_ = 0;
    uint32_t device_len_ = 0, notify_mult_ = 0;
    uint16_t queue_notify_off_[max_queues] = {};
};

}  // namespace drivers::virtio
