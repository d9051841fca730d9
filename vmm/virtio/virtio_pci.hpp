// The virtio over PCI modern transport (virtio 1.2 4.1) for any
// VirtioDevice: a non-transitional PCI function (vendor 0x1AF4, device
// 0x1040 + virtio device ID, revision 1; 4.1.2) whose virtio structures all
// live in one 64-bit memory BAR (BAR4, 16 KiB), found through vendor
// capabilities (4.1.4): common configuration, notifications
// (notify_off_multiplier 4, queue i at offset 4*i), ISR status, the
// device-specific configuration and the PCI configuration access window;
// plus MSI-X with one vector per queue and one for configuration changes.
// Without MSI-X, interrupts are INTx with the ISR status byte.
//
// The device status state machine follows 2.1 and 3.1.1: FEATURES_OK sticks
// only when the driver accepted a subset of the offered features including
// VIRTIO_F_VERSION_1; writing 0 resets the device and every queue; queue
// registers cannot change once a queue is enabled (4.1.4.3.2). A device
// model or queue that finds the driver misbehaving sets DEVICE_NEEDS_RESET
// and the driver is told with a configuration change interrupt (2.1.2).
// Portable, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/pci/device.hpp"
#include "vmm/pci/msix.hpp"
#include "vmm/virtio/guest_ram.hpp"
#include "vmm/virtio/virtqueue.hpp"

namespace vmm::virtio {

// Device status bits (2.1).
namespace status {
inline constexpr uint8_t acknowledge = 1, driver = 2, driver_ok = 4, features_ok = 8;
inline constexpr uint8_t device_needs_reset = 0x40, failed = 0x80;
}  // namespace status

inline constexpr uint16_t no_vector = 0xffff;  // VIRTIO_MSI_NO_VECTOR (4.1.5.1.2)
inline constexpr uint16_t pci_vendor_id = 0x1af4;
inline constexpr uint16_t pci_device_id_base = 0x1040;

// cfg_type values (4.1.4).
namespace cap_type {
inline constexpr uint8_t common = 1, notify = 2, isr = 3, device = 4, pci = 5;
}

// struct virtio_pci_cap (4.1.4).
struct VirtioPciCap {
    uint8_t cap_vndr;  // 0x09, vendor-specific
    uint8_t cap_next;
    uint8_t cap_len;
    uint8_t cfg_type;
    uint8_t bar;
    uint8_t id;
    uint8_t padding[2];
    uint32_t offset;  // within the BAR
    uint32_t length;
};
static_assert(sizeof(VirtioPciCap) == 16);
static_assert(offsetof(VirtioPciCap, cfg_type) == 3 && offsetof(VirtioPciCap, bar) == 4 &&
              offsetof(VirtioPciCap, offset) == 8 && offsetof(VirtioPciCap, length) == 12);

// struct virtio_pci_notify_cap (4.1.4.4).
struct VirtioPciNotifyCap {
    VirtioPciCap cap;
    uint32_t notify_off_multiplier;
};
static_assert(sizeof(VirtioPciNotifyCap) == 20 && offsetof(VirtioPciNotifyCap, notify_off_multiplier) == 16);

// struct virtio_pci_cfg_cap: the PCI configuration access capability.
struct VirtioPciCfgCap {
    VirtioPciCap cap;
    uint8_t pci_cfg_data[4];
};
static_assert(sizeof(VirtioPciCfgCap) == 20 && offsetof(VirtioPciCfgCap, pci_cfg_data) == 16);

// struct virtio_pci_common_cfg (4.1.4.3), the 1.0 part; 1.2 appends
// queue_notify_data (56) and queue_reset (58), which matter only with
// VIRTIO_F_NOTIF_CONFIG_DATA / VIRTIO_F_RING_RESET (not offered: read 0).
struct VirtioPciCommonCfg {
    uint32_t device_feature_select;
    uint32_t device_feature;
    uint32_t driver_feature_select;
    uint32_t driver_feature;
    uint16_t config_msix_vector;
    uint16_t num_queues;
    uint8_t device_status;
    uint8_t config_generation;
    uint16_t queue_select;
    uint16_t queue_size;
    uint16_t queue_msix_vector;
    uint16_t queue_enable;
    uint16_t queue_notify_off;
    uint64_t queue_desc;
    uint64_t queue_driver;
    uint64_t queue_device;
};
static_assert(sizeof(VirtioPciCommonCfg) == 56);
static_assert(offsetof(VirtioPciCommonCfg, device_feature) == 4 && offsetof(VirtioPciCommonCfg, driver_feature) == 12);
static_assert(offsetof(VirtioPciCommonCfg, config_msix_vector) == 16 && offsetof(VirtioPciCommonCfg, num_queues) == 18);
static_assert(offsetof(VirtioPciCommonCfg, device_status) == 20 && offsetof(VirtioPciCommonCfg, config_generation) == 21);
static_assert(offsetof(VirtioPciCommonCfg, queue_select) == 22 && offsetof(VirtioPciCommonCfg, queue_size) == 24);
static_assert(offsetof(VirtioPciCommonCfg, queue_msix_vector) == 26 && offsetof(VirtioPciCommonCfg, queue_enable) == 28);
static_assert(offsetof(VirtioPciCommonCfg, queue_notify_off) == 30 && offsetof(VirtioPciCommonCfg, queue_desc) == 32);
static_assert(offsetof(VirtioPciCommonCfg, queue_driver) == 40 && offsetof(VirtioPciCommonCfg, queue_device) == 48);
inline constexpr unsigned common_queue_notify_data = 56, common_queue_reset = 58;

// What a device model sees of its transport.
class VirtioTransport {
public:
    virtual GuestRam& ram() = 0;
    // The queue if the driver enabled it, else nullptr.
    virtual Virtqueue* queue(unsigned q) = 0;
    // DRIVER_OK set and neither FAILED nor DEVICE_NEEDS_RESET: buffers may
    // be consumed (3.1.1, 2.1.2).
    virtual bool live() const = 0;
    // Features the driver accepted (valid once FEATURES_OK is set).
    virtual uint64_t negotiated() const = 0;
    // After push() on queue q: interrupts the driver if the ring asks.
    virtual void queue_used(unsigned q) = 0;
    // The device configuration changed (bumps config_generation, interrupts).
    virtual void config_changed() = 0;
    // The driver broke the device's protocol: DEVICE_NEEDS_RESET.
    virtual void device_error() = 0;

protected:
    ~VirtioTransport() = default;
};

// A virtio device model (virtio 1.2 5.x), transport-independent.
class VirtioDevice {
public:
    virtual uint16_t device_type() const = 0;  // virtio device ID (5): 1 net, 2 blk, 3 console
    virtual uint32_t pci_class() const = 0;    // base<<16 | sub<<8 | prog-if
    // Device-specific feature bits the device offers; the transport adds
    // VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC and VIRTIO_F_EVENT_IDX
    // (the last unless event_idx_offered() is false).
    virtual uint64_t device_features() const = 0;
    virtual unsigned num_queues() const = 0;
    virtual uint16_t queue_max_size(unsigned q) const = 0;  // power of two
    virtual uint32_t config_size() const = 0;
    // Device configuration space (2.5); offset + size <= config_size().
    virtual uint32_t config_read(uint32_t offset, unsigned size) = 0;
    virtual void config_write(uint32_t offset, unsigned size, uint32_t value) = 0;
    // Device reset (2.4): back to the state before the driver started.
    virtual void reset() = 0;
    // DRIVER_OK was set; the queues the driver enabled are ready.
    virtual void activate() {}
    // The driver kicked queue q (only while live()). An error, or a queue
    // left broken, sets DEVICE_NEEDS_RESET.
    virtual lib::Status queue_notify(unsigned q) = 0;

    void bind(VirtioTransport* t) { transport_ = t; }
    // Whether the transport offers VIRTIO_F_EVENT_IDX (on unless turned
    // off: a vif's event_idx=0, for measuring notification suppression).
    // Takes effect at the driver's next feature negotiation.
    bool event_idx_offered() const { return event_idx_offered_; }
    void set_event_idx_offered(bool on) { event_idx_offered_ = on; }

protected:
    ~VirtioDevice() = default;
    VirtioTransport* transport_ = nullptr;
    bool event_idx_offered_ = true;
};

class VirtioPci final : public pci::PciDevice, public VirtioTransport {
public:
    static constexpr unsigned max_queues = 32;
    static constexpr unsigned bar = 4;
    static constexpr uint64_t bar_size = 0x4000;
    // Where the structures sit inside BAR4.
    static constexpr uint32_t common_offset = 0x0000, isr_offset = 0x1000, device_offset = 0x2000;
    static constexpr uint32_t notify_offset = 0x3000, msix_table_offset = 0x3800, msix_pba_offset = 0x3c00;
    static constexpr uint32_t region_size = 0x1000, notify_multiplier = 4;

    VirtioPci(VirtioDevice& dev, GuestRam& ram, pci::IrqSink& irq) : dev_(dev), ram_(ram), irq_(irq) {}
    // Builds config space and binds the device; once, before the function
    // is put on the bus. unsupported if the device has 0 or too many queues.
    lib::Status init();

    // pci::PciDevice
    uint32_t config_read(unsigned offset, unsigned size) override;
    void config_write(unsigned offset, unsigned size, uint32_t value) override;
    uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size) override;
    void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override;

    // VirtioTransport
    GuestRam& ram() override { return ram_; }
    Virtqueue* queue(unsigned q) override;
    bool live() const override;
    uint64_t negotiated() const override { return (status_ & status::features_ok) ? driver_features_ : 0; }
    void queue_used(unsigned q) override;
    void config_changed() override;
    void device_error() override;

    // A queue notification, as a write to queue q's notify address does
    // (the integrator may call it directly from a faster trap path).
    void notify(unsigned q);

    uint64_t offered_features() const;
    uint8_t device_status() const { return status_; }
    uint8_t isr() const { return isr_; }
    bool intx_level() const { return intx_level_; }
    uint8_t pci_cfg_cap_offset() const { return pci_cfg_cap_; }
    pci::Msix& msix() { return msix_; }

private:
    struct QueueRegs {
        uint16_t size = 0;
        uint16_t vector = no_vector;
        uint64_t desc = 0, driver = 0, device = 0;
    };

    void reset();
    void set_status(uint8_t v);
    uint64_t common_read(uint32_t off, unsigned size);
    void common_write(uint32_t off, unsigned size, uint64_t value);
    void signal_queue(unsigned q);
    void signal_config();
    void update_intx();
    bool queue_valid(unsigned q) const { return q < nqueues_; }
    uint16_t vector_or_none(uint64_t v) const { return v < msix_.vectors() ? uint16_t(v) : no_vector; }
    void check_queues();

    VirtioDevice& dev_;
    GuestRam& ram_;
    pci::IrqSink& irq_;
    pci::Msix msix_;
    unsigned nqueues_ = 0;
    uint8_t pci_cfg_cap_ = 0;
    uint8_t status_ = 0;
    uint8_t isr_ = 0;
    uint8_t config_generation_ = 0;
    bool intx_level_ = false;
    uint32_t device_feature_select_ = 0, driver_feature_select_ = 0;
    uint64_t driver_features_ = 0;
    uint16_t config_vector_ = no_vector;
    uint16_t queue_select_ = 0;
    QueueRegs regs_[max_queues];
    Virtqueue queues_[max_queues];
};

}  // namespace vmm::virtio
