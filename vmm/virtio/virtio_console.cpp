#include "vmm/virtio/virtio_console.hpp"

namespace vmm::virtio {

uint64_t VirtioConsole::device_features() const
{
    return console_feature::emerg_write | (has_size_ ? console_feature::size : 0);
}

size_t VirtioConsole::receive(const char* data, size_t len)
{
    size_t n = 0;
    while (n < len && rx_count_ < rx_capacity) {
        rx_[(rx_head_ + rx_count_) % rx_capacity] = data[n++];
        ++rx_count_;
    }
    if (transport_ && !flush_rx()) transport_->device_error();
    return n;
}

void VirtioConsole::resize(uint16_t cols, uint16_t rows)
{
    cols_ = cols;
    rows_ = rows;
    if (has_size_ && transport_) transport_->config_changed();
}

uint32_t VirtioConsole::config_read(uint32_t offset, unsigned size)
{
    // cols and rows are valid only with F_SIZE, max_nr_ports only with
    // MULTIPORT (5.3.4); the rest reads as fixed values.
    uint8_t b[sizeof(VirtioConsoleConfig)] = {};
    b[0] = uint8_t(cols_);
    b[1] = uint8_t(cols_ >> 8);
    b[2] = uint8_t(rows_);
    b[3] = uint8_t(rows_ >> 8);
    b[4] = 1;  // max_nr_ports
    uint32_t v = 0;
    for (unsigned i = 0; i < size && offset + i < sizeof b; ++i) v |= uint32_t(b[offset + i]) << (8 * i);
    return v;
}

void VirtioConsole::config_write(uint32_t offset, unsigned size, uint32_t value)
{
    // 5.3.6.1: with EMERG_WRITE, a write to emerg_wr outputs one character
    // (the low byte), even before the queues exist.
    if (offset == offsetof(VirtioConsoleConfig, emerg_wr) && (size == 4 || size == 1) && sink_) {
        const char c = char(value);
        sink_(ctx_, &c, 1);
    }
}

lib::Status VirtioConsole::queue_notify(unsigned q)
{
    if (q == receiveq) return flush_rx();
    if (q == transmitq) return drain_tx();
    return {};
}

lib::Status VirtioConsole::flush_rx()
{
    if (!transport_ || !transport_->live() || !rx_count_) return {};
    Virtqueue* q = transport_->queue(receiveq);
    if (!q) return {};
    bool used = false;
    while (rx_count_) {
        auto r = q->pop(chain_);
        if (!r) return lib::err(r.error());
        if (!*r) break;  // no buffer: the rest waits for the guest to post one
        // Copy the FIFO out in at most two runs (it may wrap).
        uint64_t written = 0;
        while (rx_count_ && written < chain_.writable) {
            size_t run = rx_capacity - rx_head_;
            if (run > rx_count_) run = rx_count_;
            const size_t n = chain_.write(written, rx_ + rx_head_, run);
            if (n == 0) break;
            written += n;
            rx_head_ = (rx_head_ + n) % rx_capacity;
            rx_count_ -= n;
        }
        TRY(q->push(chain_.head, uint32_t(written)));
        used = true;
    }
    if (used) transport_->queue_used(receiveq);
    return {};
}

lib::Status VirtioConsole::drain_tx()
{
    if (!transport_ || !transport_->live()) return {};
    Virtqueue* q = transport_->queue(transmitq);
    if (!q) return {};
    bool used = false;
    // Suppress kicks while draining, then re-enable and look once more for
    // buffers that raced with re-enabling (2.7.10).
    for (;;) {
        q->disable_notify();
        for (;;) {
            auto r = q->pop(chain_);
            if (!r) return lib::err(r.error());
            if (!*r) break;
            for (unsigned i = 0; i < chain_.count; ++i) {
                const Segment& s = chain_.seg[i];
                if (!s.writable && sink_) sink_(ctx_, reinterpret_cast<const char*>(s.host), s.len);
            }
            TRY(q->push(chain_.head, 0));
            used = true;
        }
        if (!q->enable_notify()) break;
    }
    if (used) transport_->queue_used(transmitq);
    return {};
}

}  // namespace vmm::virtio
