#include "drivers/e1000e/e1000e.hpp"

namespace drivers::e1000e {

namespace {

constexpr uint64_t ms_ns = 1000 * 1000;
constexpr uint64_t reset_timeout_ns = 100 * ms_ns;  // the datasheet: about 1 us, more after an EEPROM load
constexpr uint64_t eeprom_timeout_ns = 10 * ms_ns;
constexpr uint32_t rah_address_valid = 1u << 31;
constexpr uint32_t interrupts = irq::rx_timer | irq::rx_overrun | irq::rx_min_threshold | irq::tx_written_back |
                                irq::link_change;
constexpr uint32_t low(uint64_t v) { return uint32_t(v); }
constexpr uint32_t high(uint64_t v) { return uint32_t(v >> 32); }
static_assert(E1000eNic::rx_slots * sizeof(RxDescriptor) % 128 == 0, "RDLEN is a multiple of 128 bytes");
static_assert(E1000eNic::tx_slots * sizeof(TxDescriptor) % 128 == 0, "TDLEN is a multiple of 128 bytes");

}  // namespace

bool E1000eNic::supports(pci::Function& fn)
{
    if (fn.vendor() != intel_vendor) return false;
    uint16_t d = fn.device_id();
    return d == device_82574l || d == device_82574la || d == device_82583v;
}

lib::Status E1000eNic::reset()
{
    // 4.6.1: interrupts masked and both units stopped before the reset, and
    // masked again after it (the reset does not clear IMS on every part).
    wr(reg::imc, ~0u);
    wr(reg::rctl, 0);
    wr(reg::tctl, 0);
    (void)rd(reg::status);  // flush the posted writes
    platform_->delay_us(10'000);
    wr(reg::ctrl, rd(reg::ctrl) | ctrl::reset);
    platform_->delay_us(1);
    uint64_t deadline = platform_->now_ns() + reset_timeout_ns;
    for (;;) {
        uint32_t c = rd(reg::ctrl);
        if (c == ~0u) return lib::Error::io;  // nothing answers at BAR0
        if (!(c & ctrl::reset)) break;
        if (platform_->now_ns() >= deadline) return lib::Error::busy;
        platform_->delay_us(100);
    }
    wr(reg::imc, ~0u);
    (void)rd(reg::icr);
    return {};
}

lib::Status E1000eNic::read_mac()
{
    uint32_t ral = rd(reg::ral0), rah = rd(reg::rah0);
    if (rah & rah_address_valid) {
        for (unsigned i = 0; i < 4; ++i) mac_[i] = uint8_t(ral >> 8 * i);
        mac_[4] = uint8_t(rah);
        mac_[5] = uint8_t(rah >> 8);
    } else {
        // Words 0..2 of the EEPROM hold the address, low byte first.
        for (unsigned w = 0; w < 3; ++w) {
            wr(reg::eerd, eerd::read_word(w));
            uint64_t deadline = platform_->now_ns() + eeprom_timeout_ns;
            uint32_t v;
            while (!((v = rd(reg::eerd)) & eerd::done)) {
                if (platform_->now_ns() >= deadline) return lib::Error::busy;
                platform_->delay_us(5);
            }
            mac_[2 * w] = uint8_t(eerd::data(v));
            mac_[2 * w + 1] = uint8_t(eerd::data(v) >> 8);
        }
    }
    bool zero = true;
    for (uint8_t b : mac_) zero &= b == 0;
    if (zero || (mac_[0] & 1)) return lib::Error::invalid;
    // The receive filter's entry 0 is the card's own address (the receiver
    // is promiscuous anyway, but a valid RAR0 is what the datasheet expects).
    wr(reg::ral0, uint32_t(mac_[0]) | uint32_t(mac_[1]) << 8 | uint32_t(mac_[2]) << 16 | uint32_t(mac_[3]) << 24);
    wr(reg::rah0, uint32_t(mac_[4]) | uint32_t(mac_[5]) << 8 | rah_address_valid);
    return {};
}

void E1000eNic::setup_rings()
{
    rx_ = static_cast<RxDescriptor*>(rings_.va);
    tx_ = reinterpret_cast<TxDescriptor*>(static_cast<uint8_t*>(rings_.va) + 4096);
    uint64_t rx_bus = rings_.bus, tx_bus = rings_.bus + 4096;
    for (unsigned i = 0; i < rx_slots; ++i) {
        rx_[i] = RxDescriptor{};
        rx_[i].buffer = rx_dma_.bus + uint64_t(i) * slot_bytes;
    }
    for (unsigned i = 0; i < tx_slots; ++i) tx_[i] = TxDescriptor{};
    __atomic_thread_fence(__ATOMIC_RELEASE);

    wr(reg::rdbal, low(rx_bus));
    wr(reg::rdbah, high(rx_bus));
    wr(reg::rdlen, rx_slots * sizeof(RxDescriptor));
    wr(reg::rdh, 0);
    // The card owns [RDH, RDT): one descriptor stays back so that a full
    // ring and an empty one differ.
    wr(reg::rdt, rx_slots - 1);
    wr(reg::rdtr, 0);  // no receive delay: the interrupt at once
    wr(reg::tdbal, low(tx_bus));
    wr(reg::tdbah, high(tx_bus));
    wr(reg::tdlen, tx_slots * sizeof(TxDescriptor));
    wr(reg::tdh, 0);
    wr(reg::tdt, 0);
    rx_next_ = 0;
    rx_discarding_ = false;
    tx_tail_ = tx_clean_ = tx_in_flight_ = 0;

    wr(reg::rxcsum, rxcsum::ip | rxcsum::tcp_udp);
    wr(reg::tipg, tipg_default);
    // The bits besides these keep what the reset left (RTLC, MULR on the
    // 82574), as Linux's e1000e keeps them.
    wr(reg::tctl, (rd(reg::tctl) & ~tctl::collision_fields) | tctl::enable | tctl::pad_short |
                      tctl::collision_threshold | tctl::collision_distance);
    wr(reg::rctl, rctl::enable | rctl::unicast_promiscuous | rctl::multicast_promiscuous | rctl::broadcast |
                      rctl::buffer_2048 | rctl::strip_crc);
}

lib::Status E1000eNic::init(pci::Function& fn, DevicePlatform& p)
{
    platform_ = &p;
    if (!supports(fn)) return lib::Error::unsupported;
    pci::Bar bar0 = fn.bar(0);
    if (!bar0.size || bar0.io || bar0.size < reg::rah0 + 4) return lib::Error::unsupported;
    fn.enable(pci::command::memory | pci::command::bus_master);
    regs_ = TRY(p.map_mmio(bar0.base, bar0.size));
    TRY(reset());
    wr(reg::ctrl, (rd(reg::ctrl) | ctrl::set_link_up) & ~ctrl::phy_reset);
    TRY(read_mac());
    for (unsigned i = 0; i < reg::mta_entries; ++i) wr(reg::mta + 4 * i, 0);

    static_assert(rx_slots * sizeof(RxDescriptor) <= 4096 && tx_slots * sizeof(TxDescriptor) <= 4096);
    rings_ = TRY(p.alloc_dma(2 * 4096));
    rx_dma_ = TRY(p.alloc_dma(rx_slots * slot_bytes));
    tx_dma_ = TRY(p.alloc_dma(tx_slots * slot_bytes));
    setup_rings();

    // MSI, not MSI-X: one message for every cause needs no IVAR routing.
    if (auto v = p.bind_msi(); v.ok()) {
        vector_ = *v;
        have_event_ = fn.enable_msi(vector_).ok();
    }
    (void)rd(reg::icr);
    if (have_event_) wr(reg::ims, interrupts);
    ready_ = true;
    return {};
}

bool E1000eNic::link_up() { return ready_ && (rd(reg::status) & status_link_up); }

lib::Status E1000eNic::transmit(const void* frame, size_t len)
{
    if (!ready_) return lib::Error::invalid;
    if (len < 14 || len > max_frame()) return lib::Error::invalid;
    if (tx_in_flight_ == tx_slots - 1) reclaim_tx();  // not poll(): received frames wait for their caller
    if (tx_in_flight_ == tx_slots - 1) {
        // One descriptor stays empty: TDT == TDH means an idle ring.
        ++stats_.tx_busy;
        return lib::Error::busy;
    }
    unsigned i = tx_tail_;
    uint8_t* slot = static_cast<uint8_t*>(tx_dma_.va) + uint64_t(i) * slot_bytes;
    __builtin_memcpy(slot, frame, len);
    // PSP pads to 60 bytes only from 17 up (as Linux's e1000e has it): a
    // shorter frame is padded here.
    size_t wire = len < min_padded ? min_padded : len;
    for (size_t b = len; b < wire; ++b) slot[b] = 0;
    TxDescriptor d{};
    d.buffer = tx_dma_.bus + uint64_t(i) * slot_bytes;
    d.length = uint16_t(wire);
    d.command = tx_end_of_packet | tx_insert_fcs | tx_report_status;
    tx_[i] = d;
    tx_tail_ = (i + 1) % tx_slots;
    ++tx_in_flight_;
    ++stats_.tx_packets;
    stats_.tx_bytes += len;
    // The descriptor and the frame must be in memory before the card hears of them.
    __atomic_thread_fence(__ATOMIC_RELEASE);
    wr(reg::tdt, tx_tail_);
    return {};
}

void E1000eNic::reclaim_tx()
{
    while (tx_in_flight_ && (__atomic_load_n(&tx_[tx_clean_].status, __ATOMIC_ACQUIRE) & tx_done)) {
        tx_[tx_clean_].status = 0;
        tx_clean_ = (tx_clean_ + 1) % tx_slots;
        --tx_in_flight_;
    }
}

unsigned E1000eNic::poll(Receive rx, void* ctx)
{
    if (!ready_) return 0;
    if (have_event_) (void)rd(reg::icr);  // acknowledges the causes: the next one sends a new MSI
    reclaim_tx();
    unsigned n = 0, given_back = 0, last = 0;
    // At most a ring's worth per call, so that a flood cannot hold Dom0 here.
    for (unsigned seen = 0; seen < rx_slots; ++seen) {
        RxDescriptor& d = rx_[rx_next_];
        uint8_t status = __atomic_load_n(&d.status, __ATOMIC_ACQUIRE);
        if (!(status & rx_done)) break;
        uint16_t len = d.length;
        // A frame spread over several buffers cannot happen with 2 KiB
        // buffers and no long-packet mode: the card's error, dropped whole
        // (every descriptor up to the one with EOP, whose error bits are
        // the frame's).
        bool eop = status & rx_end_of_packet;
        if (rx_discarding_ || !eop) {
            if (!rx_discarding_) ++stats_.rx_errors;
            rx_discarding_ = !eop;
        } else if ((d.errors & rx_frame_errors) || len < 14 || len > slot_bytes) {
            ++stats_.rx_errors;
        } else {
            ++n;
            ++stats_.rx_packets;
            stats_.rx_bytes += len;
            // A good TCP or UDP checksum (and IPv4 header, when there is
            // one) lets the guests skip theirs.
            bool l4 = status & (rx_tcp_checked | rx_udp_checked);
            bool verified = !(status & rx_ignore_checksum) && l4 && !(d.errors & (rx_tcp_udp_error | rx_ip_error));
            if (verified) ++rx_verified_;
            if (rx)
                rx(ctx, static_cast<const uint8_t*>(rx_dma_.va) + uint64_t(rx_next_) * slot_bytes, len,
                   verified ? rx_checksum_verified : 0);
        }
        d.status = 0;
        d.errors = 0;
        d.length = 0;
        last = rx_next_;
        rx_next_ = (rx_next_ + 1) % rx_slots;
        ++given_back;
    }
    if (given_back) {
        __atomic_thread_fence(__ATOMIC_RELEASE);
        wr(reg::rdt, last);
    }
    return n;
}

}  // namespace drivers::e1000e
