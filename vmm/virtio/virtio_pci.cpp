#include "vmm/virtio/virtio_pci.hpp"

namespace vmm::virtio {
namespace {

using pci::ConfigSpace;

constexpr bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

void put32(uint8_t* p, uint32_t v)
{
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

// A vendor capability describing one structure in BAR4 (4.1.4).
lib::Result<uint8_t> add_virtio_cap(ConfigSpace& cfg, uint8_t type, uint32_t offset, uint32_t length,
                                    uint8_t extra_len = 0, uint32_t extra = 0, const uint8_t* mask = nullptr)
{
    uint8_t b[sizeof(VirtioPciCfgCap)] = {};
    const uint8_t len = uint8_t(sizeof(VirtioPciCap) + extra_len);
    b[0] = pci::cap_id_vendor;
    b[2] = len;
    b[3] = type;
    b[4] = uint8_t(VirtioPci::bar);
    put32(b + 8, offset);
    put32(b + 12, length);
    if (extra_len) put32(b + 16, extra);
    return cfg.add_capability(b, len, mask);
}

}  // namespace

lib::Status VirtioPci::init()
{
    nqueues_ = dev_.num_queues();
    if (nqueues_ == 0 || nqueues_ > max_queues || dev_.config_size() > region_size) return lib::err(lib::Error::unsupported);
    const uint16_t id = uint16_t(pci_device_id_base + dev_.device_type());
    // 4.1.2.1: revision 1 or higher for a non-transitional device;
    // subsystem device ID 0x40 or higher (we repeat the device ID).
    cfg_.init(pci_vendor_id, id, dev_.pci_class(), 1, pci_vendor_id, id);
    TRY(cfg_.set_bar(bar, pci::BarKind::mem64, bar_size));
    cfg_.set_interrupt_pin(1);  // INTA#
    TRY(add_virtio_cap(cfg_, cap_type::common, common_offset, region_size));
    TRY(add_virtio_cap(cfg_, cap_type::notify, notify_offset, nqueues_ * notify_multiplier, 4, notify_multiplier));
    TRY(add_virtio_cap(cfg_, cap_type::isr, isr_offset, region_size));
    if (dev_.config_size()) TRY(add_virtio_cap(cfg_, cap_type::device, device_offset, region_size));
    // The PCI configuration access capability (4.1.4, "PCI configuration
    // access capability"; every device MUST have one): bar, offset, length
    // and pci_cfg_data are written by the driver.
    uint8_t mask[sizeof(VirtioPciCfgCap)] = {};
    mask[4] = 0xff;
    for (unsigned i = 8; i < 20; ++i) mask[i] = 0xff;
    pci_cfg_cap_ = TRY(add_virtio_cap(cfg_, cap_type::pci, 0, 0, 4, 0, mask));
    TRY(msix_.init(cfg_, irq_, nqueues_ + 1, bar, msix_table_offset, msix_pba_offset));
    dev_.bind(this);
    reset();
    return {};
}

uint64_t VirtioPci::offered_features() const
{
    return (dev_.device_features() & ((1ull << 24) - 1)) | feature::version_1 | feature::indirect_desc |
           (dev_.event_idx_offered() ? feature::event_idx : 0);
}

void VirtioPci::reset()
{
    // 2.4 / 4.1.4.3: writing 0 to device_status resets the device, its
    // queues, the negotiated features and the vector assignments.
    dev_.reset();
    for (unsigned q = 0; q < max_queues; ++q) {
        queues_[q].reset();
        regs_[q] = QueueRegs{};
        regs_[q].size = q < nqueues_ ? dev_.queue_max_size(q) : 0;
    }
    status_ = 0;
    driver_features_ = 0;
    device_feature_select_ = driver_feature_select_ = 0;
    config_vector_ = no_vector;
    queue_select_ = 0;
    isr_ = 0;
    update_intx();
}

Virtqueue* VirtioPci::queue(unsigned q)
{
    return queue_valid(q) && queues_[q].enabled() ? &queues_[q] : nullptr;
}

bool VirtioPci::live() const
{
    return (status_ & status::driver_ok) && !(status_ & (status::failed | status::device_needs_reset));
}

void VirtioPci::update_intx()
{
    // INTx carries the ISR only while MSI-X is off (4.1.5.3, 4.1.5.4); the
    // status register's interrupt bit shows the condition even when the
    // command register masks the pin.
    const bool pending = isr_ && !msix_.enabled();
    cfg_.set_intx_status(pending);
    const bool level = pending && !cfg_.intx_disabled();
    if (level != intx_level_) {
        intx_level_ = level;
        irq_.intx(level);
    }
}

void VirtioPci::signal_queue(unsigned q)
{
    if (msix_.enabled()) {
        if (regs_[q].vector != no_vector) msix_.notify(regs_[q].vector);
        return;
    }
    isr_ |= 1;  // 4.1.4.5: queue interrupt
    update_intx();
}

void VirtioPci::signal_config()
{
    if (msix_.enabled()) {
        if (config_vector_ != no_vector) msix_.notify(config_vector_);
        return;
    }
    isr_ |= 2;  // 4.1.4.5: device configuration interrupt
    update_intx();
}

void VirtioPci::queue_used(unsigned q)
{
    if (!queue(q) || !(status_ & status::driver_ok)) return;
    if (queues_[q].should_interrupt()) signal_queue(q);
}

void VirtioPci::config_changed()
{
    ++config_generation_;  // 4.1.4.3: lets the driver detect torn reads
    if (status_ & status::driver_ok) signal_config();
}

void VirtioPci::device_error()
{
    if (status_ & status::device_needs_reset) return;
    status_ |= status::device_needs_reset;
    // 2.1.2: with DRIVER_OK set, a configuration change notification tells
    // the driver to look at the status.
    if (status_ & status::driver_ok) signal_config();
}

void VirtioPci::check_queues()
{
    for (unsigned q = 0; q < nqueues_; ++q)
        if (queues_[q].broken()) {
            device_error();
            return;
        }
}

void VirtioPci::notify(unsigned q)
{
    // 3.1.1: no buffers are consumed before DRIVER_OK; a broken device
    // waits for its reset.
    if (!live() || !queue(q)) return;
    if (!dev_.queue_notify(q)) device_error();
    check_queues();
}

void VirtioPci::set_status(uint8_t v)
{
    if (v == 0) {
        reset();
        return;
    }
    const uint8_t old = status_;
    const uint8_t driver_bits = status::acknowledge | status::driver | status::features_ok | status::driver_ok |
                                status::failed;
    // 2.1.2: the driver never clears a bit (only a reset does) and never
    // sets DEVICE_NEEDS_RESET; such writes are ignored.
    if (old & ~v & driver_bits) return;
    v = uint8_t((v & driver_bits) | (old & status::device_needs_reset));
    if ((v & status::features_ok) && !(old & status::features_ok)) {
        // 3.1.1 step 5 / 6.1: FEATURES_OK holds only for a subset of what we
        // offered that includes VERSION_1 (we are not a legacy device); the
        // driver re-reads the status to find out.
        const uint64_t f = driver_features_;
        if ((f & ~offered_features()) || !(f & feature::version_1)) v &= uint8_t(~status::features_ok);
    }
    if ((v & status::driver_ok) && !(v & status::features_ok)) v &= uint8_t(~status::driver_ok);
    status_ = v;
    if ((v & status::driver_ok) && !(old & status::driver_ok)) {
        dev_.activate();
        // Kicks before DRIVER_OK were ignored: look at every enabled queue
        // once so buffers the driver posted early are not forgotten.
        for (unsigned q = 0; q < nqueues_; ++q) notify(q);
    }
}

uint64_t VirtioPci::common_read(uint32_t off, unsigned size)
{
    const bool sel_ok = queue_valid(queue_select_);
    const QueueRegs& r = regs_[sel_ok ? queue_select_ : 0];
    // 4.1.3.1: fields are accessed at their natural width; 64-bit ones
    // also as two 32-bit halves. Other accesses read 0.
    auto field = [&](uint32_t at, unsigned width) { return off == at && size == width; };
    if (field(0, 4)) return device_feature_select_;
    if (field(4, 4)) {
        const uint64_t f = offered_features();
        return device_feature_select_ == 0 ? uint32_t(f) : device_feature_select_ == 1 ? uint32_t(f >> 32) : 0;
    }
    if (field(8, 4)) return driver_feature_select_;
    if (field(12, 4)) {
        return driver_feature_select_ == 0 ? uint32_t(driver_features_)
               : driver_feature_select_ == 1 ? uint32_t(driver_features_ >> 32) : 0;
    }
    if (field(16, 2)) return config_vector_;
    if (field(18, 2)) return nqueues_;
    if (field(20, 1)) return status_;
    if (field(21, 1)) return config_generation_;
    if (field(22, 2)) return queue_select_;
    if (!sel_ok) return off == 26 && size == 2 ? no_vector : 0;  // queue_size 0: no such queue
    if (field(24, 2)) return r.size;
    if (field(26, 2)) return r.vector;
    if (field(28, 2)) return queues_[queue_select_].enabled() ? 1 : 0;
    if (field(30, 2)) return queue_select_;  // queue_notify_off: queue i at 4*i
    for (uint32_t at : {32u, 40u, 48u}) {
        const uint64_t v = at == 32 ? r.desc : at == 40 ? r.driver : r.device;
        if (field(at, 8)) return v;
        if (field(at, 4)) return uint32_t(v);
        if (field(at + 4, 4)) return uint32_t(v >> 32);
    }
    return 0;  // queue_notify_data, queue_reset and the rest of the window
}

void VirtioPci::common_write(uint32_t off, unsigned size, uint64_t value)
{
    auto field = [&](uint32_t at, unsigned width) { return off == at && size == width; };
    const uint32_t v32 = uint32_t(value);
    if (field(0, 4)) { device_feature_select_ = v32; return; }
    if (field(8, 4)) { driver_feature_select_ = v32; return; }
    if (field(12, 4)) {
        // Features are fixed once FEATURES_OK is set (3.1.1).
        if (status_ & status::features_ok) return;
        if (driver_feature_select_ == 0) driver_features_ = (driver_features_ & ~0xffffffffull) | v32;
        else if (driver_feature_select_ == 1) driver_features_ = (driver_features_ & 0xffffffffull) | uint64_t(v32) << 32;
        return;
    }
    if (field(16, 2)) {
        // 4.1.5.1.2.1: a vector the device cannot use reads back NO_VECTOR.
        config_vector_ = vector_or_none(value & 0xffff);
        return;
    }
    if (field(20, 1)) { set_status(uint8_t(value)); return; }
    if (field(22, 2)) { queue_select_ = uint16_t(value); return; }
    if (!queue_valid(queue_select_)) return;
    QueueRegs& r = regs_[queue_select_];
    Virtqueue& q = queues_[queue_select_];
    if (field(26, 2)) {
        r.vector = vector_or_none(value & 0xffff);
        return;
    }
    // 4.1.4.3.2: size and ring addresses are set before the queue is
    // enabled and cannot change afterwards (until reset).
    if (q.enabled()) return;
    if (field(24, 2)) {
        const uint16_t s = uint16_t(value);
        if (pow2(s) && s <= dev_.queue_max_size(queue_select_) && s <= Virtqueue::max_size) r.size = s;
        return;
    }
    if (field(28, 2)) {
        // Writing 0 is not allowed to the driver (4.1.4.3.2); ignore it.
        // Enabling needs the features settled, to know EVENT_IDX/INDIRECT.
        if ((value & 0xffff) != 1 || !(status_ & status::features_ok)) return;
        const uint64_t f = negotiated();
        if (!q.enable(ram_, {r.size, r.desc, r.driver, r.device}, f & feature::event_idx, f & feature::indirect_desc))
            device_error();
        return;
    }
    for (uint32_t at : {32u, 40u, 48u}) {
        uint64_t& reg = at == 32 ? r.desc : at == 40 ? r.driver : r.device;
        if (field(at, 8)) reg = value;
        else if (field(at, 4)) reg = (reg & ~0xffffffffull) | v32;
        else if (field(at + 4, 4)) reg = (reg & 0xffffffffull) | uint64_t(v32) << 32;
    }
}

uint64_t VirtioPci::bar_read(unsigned b, uint64_t off, unsigned size)
{
    if (b != bar || size == 0 || size > 8 || off >= bar_size || off + size > bar_size) return 0;
    if (msix_.contains(off, size)) return msix_.read(off, size);
    if (off >= common_offset && off < common_offset + region_size) return common_read(uint32_t(off - common_offset), size);
    if (off == isr_offset) {
        // 4.1.4.5: reading the ISR returns and clears it, deasserting INTx.
        const uint8_t v = isr_;
        isr_ = 0;
        update_intx();
        return v;
    }
    if (off >= device_offset && off < device_offset + region_size) {
        const uint64_t o = off - device_offset;
        if (o + size > dev_.config_size() || size > 4) return 0;
        return dev_.config_read(uint32_t(o), size);
    }
    return 0;  // notify area (write-only) and gaps
}

void VirtioPci::bar_write(unsigned b, uint64_t off, unsigned size, uint64_t value)
{
    if (b != bar || size == 0 || size > 8 || off >= bar_size || off + size > bar_size) return;
    if (msix_.contains(off, size)) {
        msix_.write(off, size, value);
        return;
    }
    if (off >= common_offset && off < common_offset + region_size) {
        common_write(uint32_t(off - common_offset), size, value);
        return;
    }
    if (off >= device_offset && off < device_offset + region_size) {
        const uint64_t o = off - device_offset;
        if (o + size <= dev_.config_size() && size <= 4) dev_.config_write(uint32_t(o), size, uint32_t(value));
        return;
    }
    if (off >= notify_offset && off < notify_offset + uint64_t(nqueues_) * notify_multiplier) {
        // 4.1.4.4: the queue is named by the address (queue_notify_off *
        // multiplier); the value (the queue index) adds nothing.
        notify(unsigned((off - notify_offset) / notify_multiplier));
    }
}

uint32_t VirtioPci::config_read(unsigned offset, unsigned size)
{
    const unsigned data = pci_cfg_cap_ + offsetof(VirtioPciCfgCap, pci_cfg_data);
    if (pci_cfg_cap_ && offset >= data && offset < data + 4) {
        // PCI configuration access: a read of pci_cfg_data performs the BAR
        // read cap.bar/cap.offset/cap.length describe (length 1, 2 or 4,
        // offset aligned to it) and returns it in the first length bytes.
        const uint8_t b = uint8_t(cfg_.raw_read(pci_cfg_cap_ + offsetof(VirtioPciCap, bar), 1));
        const uint32_t o = cfg_.raw_read(pci_cfg_cap_ + offsetof(VirtioPciCap, offset), 4);
        const uint32_t len = cfg_.raw_read(pci_cfg_cap_ + offsetof(VirtioPciCap, length), 4);
        if (b == bar && (len == 1 || len == 2 || len == 4) && !(o % len))
            cfg_.raw_write(data, 4, uint32_t(bar_read(b, o, len)));
    }
    return cfg_.read(offset, size);
}

void VirtioPci::config_write(unsigned offset, unsigned size, uint32_t value)
{
    cfg_.write(offset, size, value);
    msix_.config_written();
    update_intx();  // MSI-X enable and INTx disable both change the pin
    const unsigned data = pci_cfg_cap_ + offsetof(VirtioPciCfgCap, pci_cfg_data);
    if (pci_cfg_cap_ && offset >= data && offset < data + 4) {
        const uint8_t b = uint8_t(cfg_.raw_read(pci_cfg_cap_ + offsetof(VirtioPciCap, bar), 1));
        const uint32_t o = cfg_.raw_read(pci_cfg_cap_ + offsetof(VirtioPciCap, offset), 4);
        const uint32_t len = cfg_.raw_read(pci_cfg_cap_ + offsetof(VirtioPciCap, length), 4);
        if (b == bar && (len == 1 || len == 2 || len == 4) && !(o % len))
            bar_write(b, o, len, cfg_.raw_read(data, len));
    }
}

}  // namespace vmm::virtio
