#include "drivers/virtio/virtio_pci_device.hpp"

namespace drivers::virtio {
namespace {

// virtio_pci_cap.cfg_type
constexpr uint8_t cap_common = 1, cap_notify = 2, cap_isr = 3, cap_device = 4;

// struct virtio_pci_common_cfg
namespace common {
constexpr uint64_t device_feature_select = 0x00, device_feature = 0x04, driver_feature_select = 0x08,
                   driver_feature = 0x0c, msix_config = 0x10, num_queues = 0x12, device_status = 0x14,
                   config_generation = 0x15, queue_select = 0x16, queue_size = 0x18, queue_msix_vector = 0x1a,
                   queue_enable = 0x1c, queue_notify_off = 0x1e, queue_desc = 0x20, queue_driver = 0x28,
                   queue_device = 0x30;
}

}  // namespace

uint16_t VirtioPciDevice::device_type(pci::Function& fn)
{
    if (fn.vendor() != 0x1af4) return 0;
    uint16_t id = fn.device_id();
    if (id >= 0x1040 && id <= 0x107f) return uint16_t(id - 0x1040);
    if (id >= 0x1000 && id <= 0x103f) {  // transitional: the type is the subsystem id
        uint16_t sub = uint16_t(fn.config().read(pci::reg::subsystem + 2, 2));
        return sub;
    }
    return 0;
}

lib::Result<VirtioPciDevice::Window> VirtioPciDevice::map_structure(pci::Function& fn, DevicePlatform& p, uint8_t type)
{
    PciConfig& cfg = fn.config();
    for (uint8_t c = fn.find_capability(pci::cap::vendor); c; c = fn.find_capability(pci::cap::vendor, c)) {
        if (cfg.read(uint16_t(c + 3), 1) != type) continue;
        unsigned bar_index = cfg.read(uint16_t(c + 4), 1);
        uint32_t offset = cfg.read(uint16_t(c + 8), 4), length = cfg.read(uint16_t(c + 12), 4);
        if (bar_index > 5) continue;  // reserved BAR numbers: look for another
        pci::Bar b = fn.bar(bar_index);
        if (!b.size || b.io || uint64_t(offset) + length > b.size || !b.base) return lib::Error::corrupt;
        if (type == cap_notify) notify_mult_ = cfg.read(uint16_t(c + 16), 4);
        if (type == cap_device) device_len_ = length;
        uint64_t page = (b.base + offset) & ~0xfffull;
        uint64_t end = (b.base + offset + length + 0xfff) & ~0xfffull;
        MmioWindow* w = TRY(p.map_mmio(page, end - page));
        return Window{w, b.base + offset - page};
    }
    return lib::Error::not_found;
}

lib::Status VirtioPciDevice::init(pci::Function& fn, DevicePlatform& p)
{
    if (!device_type(fn)) return lib::Error::unsupported;
    platform_ = &p;
    fn.enable(pci::command::memory | pci::command::bus_master);
    auto c = map_structure(fn, p, cap_common);
    if (!c) return c.error() == lib::Error::not_found ? lib::Error::unsupported : c.error();  // legacy only
    common_ = c->mmio;
    common_off_ = c->off;
    Window n = TRY(map_structure(fn, p, cap_notify));
    notify_ = n.mmio;
    notify_off_ = n.off;
    Window i = TRY(map_structure(fn, p, cap_isr));
    isr_ = i.mmio;
    isr_off_ = i.off;
    if (auto d = map_structure(fn, p, cap_device)) {
        device_ = d->mmio;
        device_off_ = d->off;
    } else if (d.error() != lib::Error::not_found) {
        return d.error();
    }
    // Reset, and wait for it to read back 0 (4.1.4.3.2).
    common_->write8(common_off_ + common::device_status, 0);
    for (unsigned n_try = 0; common_->read8(common_off_ + common::device_status) != 0; ++n_try) {
        if (n_try == 100'000) return lib::Error::io;
        p.delay_us(10);
    }
    return {};
}

lib::Result<uint64_t> VirtioPciDevice::negotiate(uint64_t wanted)
{
    uint64_t base = common_off_;
    common_->write8(base + common::device_status, status::acknowledge);
    common_->write8(base + common::device_status, status::acknowledge | status::driver);
    uint64_t offered = 0;
    for (uint32_t half = 0; half < 2; ++half) {
        common_->write32(base + common::device_feature_select, half);
        offered |= uint64_t(common_->read32(base + common::device_feature)) << (32 * half);
    }
    if (!(offered & feature_version_1)) {
        set_failed();
        return lib::Error::unsupported;
    }
    uint64_t chosen = (offered & wanted) | feature_version_1;
    for (uint32_t half = 0; half < 2; ++half) {
        common_->write32(base + common::driver_feature_select, half);
        common_->write32(base + common::driver_feature, uint32_t(chosen >> (32 * half)));
    }
    common_->write8(base + common::device_status, status::acknowledge | status::driver | status::features_ok);
    if (!(common_->read8(base + common::device_status) & status::features_ok)) {
        set_failed();
        return lib::Error::unsupported;
    }
    return chosen;
}

uint16_t VirtioPciDevice::queue_count() { return common_->read16(common_off_ + common::num_queues); }

lib::Status VirtioPciDevice::setup_queue(uint16_t index, SplitQueue& q, uint16_t max, uint16_t msix_vector)
{
    uint64_t base = common_off_;
    if (index >= queue_count() || index >= max_queues) return lib::Error::not_found;
    common_->write16(base + common::queue_select, index);
    uint16_t dev_max = common_->read16(base + common::queue_size);
    if (!dev_max) return lib::Error::not_found;
    uint16_t size = max < dev_max ? max : dev_max;
    if (size > SplitQueue::max_size) size = SplitQueue::max_size;
    while (size & (size - 1)) size = uint16_t(size & (size - 1));  // a power of two for the split ring
    TRY(q.init(*platform_, size));
    common_->write16(base + common::queue_size, size);
    common_->write64(base + common::queue_desc, q.desc_bus());
    common_->write64(base + common::queue_driver, q.avail_bus());
    common_->write64(base + common::queue_device, q.used_bus());
    common_->write16(base + common::queue_msix_vector, msix_vector);
    if (msix_vector != no_vector && common_->read16(base + common::queue_msix_vector) != msix_vector)
        return lib::Error::no_memory;  // the device could not take the vector (4.1.4.3)
    queue_notify_off_[index] = common_->read16(base + common::queue_notify_off);
    common_->write16(base + common::queue_enable, 1);
    return {};
}

void VirtioPciDevice::set_config_vector(uint16_t msix_vector)
{
    common_->write16(common_off_ + common::msix_config, msix_vector);
}

void VirtioPciDevice::notify(uint16_t index)
{
    if (index >= max_queues) return;
    notify_->write16(notify_off_ + uint64_t(queue_notify_off_[index]) * notify_mult_, index);
}

void VirtioPciDevice::set_driver_ok()
{
    common_->write8(common_off_ + common::device_status,
                    status::acknowledge | status::driver | status::features_ok | status::driver_ok);
}

void VirtioPciDevice::set_failed()
{
    common_->write8(common_off_ + common::device_status, uint8_t(device_status() | status::failed));
}

uint8_t VirtioPciDevice::device_status() { return common_->read8(common_off_ + common::device_status); }

uint8_t VirtioPciDevice::isr() { return isr_->read8(isr_off_); }

uint64_t VirtioPciDevice::config64(uint32_t off)
{
    for (;;) {
        uint8_t gen = common_->read8(common_off_ + common::config_generation);
        uint64_t v = device_->read32(device_off_ + off) | uint64_t(device_->read32(device_off_ + off + 4)) << 32;
        if (common_->read8(common_off_ + common::config_generation) == gen) return v;
    }
}

}  // namespace drivers::virtio
