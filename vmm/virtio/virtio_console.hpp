// virtio-console (virtio 1.2 5.3), device ID 3: a single port without
// VIRTIO_CONSOLE_F_MULTIPORT, so queue 0 is port 0's receiveq and queue 1
// its transmitq (5.3.2). What the guest transmits goes to a sink callback
// straight from guest memory; host input is kept in a small FIFO and copied
// into the receive buffers the guest posts, staying buffered while there are
// none (5.3.6: the device fills buffers the driver placed in receiveq).
// VIRTIO_CONSOLE_F_SIZE is offered when a console size is given;
// VIRTIO_CONSOLE_F_EMERG_WRITE is always offered (emerg_wr writes one
// character to the sink, usable before the queues are up). Portable,
// host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/virtio/virtio_pci.hpp"

namespace vmm::virtio {

// struct virtio_console_config (5.3.4).
struct VirtioConsoleConfig {
    uint16_t cols;
    uint16_t rows;
    uint32_t max_nr_ports;
    uint32_t emerg_wr;
};
static_assert(sizeof(VirtioConsoleConfig) == 12);
static_assert(offsetof(VirtioConsoleConfig, rows) == 2 && offsetof(VirtioConsoleConfig, max_nr_ports) == 4 &&
              offsetof(VirtioConsoleConfig, emerg_wr) == 8);

namespace console_feature {
inline constexpr uint64_t size = 1ull << 0, multiport = 1ull << 1, emerg_write = 1ull << 2;  // 5.3.3
}

class VirtioConsole final : public VirtioDevice {
public:
    using Sink = void (*)(void* ctx, const char* data, size_t len);
    static constexpr uint16_t device_id = 3;
    static constexpr uint16_t queue_size = 128;
    static constexpr size_t rx_capacity = 1024;
    enum : unsigned { receiveq = 0, transmitq = 1 };

    // cols/rows both 0: no VIRTIO_CONSOLE_F_SIZE.
    VirtioConsole(Sink sink, void* ctx, uint16_t cols = 0, uint16_t rows = 0)
        : sink_(sink), ctx_(ctx), cols_(cols), rows_(rows), has_size_(cols || rows) {}

    // Host input for the guest. Returns how many bytes were taken (the rest
    // does not fit the FIFO); they reach the guest as soon as it has posted
    // receive buffers.
    size_t receive(const char* data, size_t len);
    size_t rx_pending() const { return rx_count_; }
    // A new console size (a configuration change, if F_SIZE is offered).
    void resize(uint16_t cols, uint16_t rows);

    // VirtioDevice
    uint16_t device_type() const override { return device_id; }
    uint32_t pci_class() const override { return 0x078000; }  // simple communication controller, other
    uint64_t device_features() const override;
    unsigned num_queues() const override { return 2; }
    uint16_t queue_max_size(unsigned) const override { return queue_size; }
    uint32_t config_size() const override { return sizeof(VirtioConsoleConfig); }
    uint32_t config_read(uint32_t offset, unsigned size) override;
    void config_write(uint32_t offset, unsigned size, uint32_t value) override;
    void reset() override {}
    lib::Status queue_notify(unsigned q) override;

private:
    lib::Status flush_rx();
    lib::Status drain_tx();

    Sink sink_;
    void* ctx_;
    uint16_t cols_, rows_;
    bool has_size_;
    char rx_[rx_capacity] = {};
    size_t rx_head_ = 0, rx_count_ = 0;
    Chain chain_;
};

}  // namespace vmm::virtio
