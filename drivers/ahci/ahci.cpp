#include "drivers/ahci/ahci.hpp"

#include "lib/str.hpp"

namespace drivers::ahci {

namespace {

constexpr uint64_t page_size = 4096;
constexpr uint64_t us_ns = 1000;
constexpr uint64_t ms_ns = 1000 * us_ns;
// Bounds from AHCI 1.3.1 section 10: engines stop within 500 ms, an HBA
// reset ends within 1 s; a disk spinning up may take seconds.
constexpr uint64_t engine_timeout_ns = 500 * ms_ns;
constexpr uint64_t hba_reset_timeout_ns = 1000 * ms_ns;
constexpr uint64_t link_timeout_ns = 1000 * ms_ns;
constexpr uint64_t empty_port_ns = 10 * ms_ns;  // DET stays 0: nothing is plugged in
constexpr uint64_t device_ready_timeout_ns = 10000 * ms_ns;
constexpr uint64_t command_timeout_ns = 10000 * ms_ns;
constexpr uint64_t handoff_timeout_ns = 25 * ms_ns, bios_busy_timeout_ns = 2000 * ms_ns;

// A port's DMA memory: the command list, the received-FIS area, one
// command table per slot (CFIS, ACMD, one PRD) and a sector for IDENTIFY.
constexpr uint64_t list_offset = 0, fis_offset = 0x400, tables_offset = 0x1000, table_bytes = 0x100,
                   identify_offset = tables_offset + max_command_slots * table_bytes, port_memory = identify_offset + page_size;
static_assert(table_prdt + sizeof(Prd) <= table_bytes && table_bytes % table_align == 0);
static_assert(fis_offset % received_fis_bytes == 0 && fis_offset >= command_list_bytes);

// Interrupts the driver takes: completions (D2H register FIS for
// non-queued commands, Set Device Bits for queued ones, PIO Setup for
// IDENTIFY) and errors.
constexpr uint32_t port_interrupts = pis::d2h_register | pis::pio_setup | pis::set_device_bits | pis::fatal;

constexpr uint32_t low(uint64_t v) { return uint32_t(v); }
constexpr uint32_t high(uint64_t v) { return uint32_t(v >> 32); }

// IDENTIFY strings: two bytes per word, the first in the high byte, padded
// with spaces.
void identify_string(const uint16_t* words, unsigned count, char* out, size_t cap)
{
    char text[2 * 32];
    size_t n = 0;
    for (unsigned i = 0; i < count && n + 2 <= sizeof text; ++i) {
        text[n++] = char(words[i] >> 8);
        text[n++] = char(words[i] & 0xff);
    }
    size_t start = 0;
    while (start < n && text[start] == ' ') ++start;
    while (n > start && (text[n - 1] == ' ' || text[n - 1] == '\0')) --n;
    lib::copy_cstr(out, cap, lib::StrView{text + start, n - start});
}

}  // namespace

// ---- the HBA ----

lib::Status AhciHba::wait_for(uint64_t r, uint32_t mask, uint32_t want, uint64_t timeout_ns)
{
    uint64_t deadline = platform_->now_ns() + timeout_ns;
    for (;;) {
        uint32_t v = rd(r);
        if (v == ~0u) return lib::Error::io;  // surprise removal reads all ones
        if ((v & mask) == want) return {};
        if (platform_->now_ns() >= deadline) return lib::Error::busy;
        platform_->delay_us(100);
    }
}

lib::Status AhciHba::take_from_bios()
{
    // BIOS/OS handoff (10.6.3): ask for ownership and give the BIOS 25 ms
    // to let go, then up to 2 s more (what the spec allows a BIOS that sets
    // BB while it finishes; one that does not set it gets the same).
    if (!(rd(reg::cap2) & cap2_bios_handoff)) return {};
    wr(reg::bohc, rd(reg::bohc) | bohc::os_owned);
    if (wait_for(reg::bohc, bohc::bios_owned, 0, handoff_timeout_ns).ok()) return {};
    return wait_for(reg::bohc, bohc::bios_owned, 0, bios_busy_timeout_ns);
}

lib::Status AhciHba::reset()
{
    // AE first: some HBAs ignore HR while in legacy mode (10.4.3).
    wr(reg::ghc, rd(reg::ghc) | ghc::ahci_enable);
    wr(reg::ghc, ghc::ahci_enable | ghc::reset);
    TRY(wait_for(reg::ghc, ghc::reset, 0, hba_reset_timeout_ns));
    wr(reg::ghc, ghc::ahci_enable);  // the reset cleared it
    return {};
}

lib::Status AhciHba::init(pci::Function& fn, DevicePlatform& p)
{
    platform_ = &p;
    if (fn.class_code() != class_code) return lib::Error::unsupported;
    pci::Bar bar = fn.bar(abar_index);
    if (!bar.size || bar.io || bar.size < reg::port(1)) return lib::Error::unsupported;
    fn.enable(pci::command::memory | pci::command::bus_master);
    uint64_t page = bar.base & ~(page_size - 1);
    abar_ = bar.base - page;
    regs_ = TRY(p.map_mmio(page, (abar_ + bar.size + page_size - 1) & ~(page_size - 1)));
    if (rd(reg::ghc) == ~0u) return lib::Error::io;  // nothing answers at ABAR

    TRY(take_from_bios());
    TRY(reset());
    cap_ = rd(reg::cap);
    uint32_t implemented = rd(reg::pi);
    unsigned ports = cap::ports(cap_);
    // Every port the ABAR holds registers for, whatever PI claims.
    while (ports && reg::port(ports) > bar.size) --ports;

    // One MSI for the HBA; without one the disks are polled (no INTx here).
    if (auto v = p.bind_msi(); v.ok()) {
        vector_ = *v;
        unsigned used = 0;
        msi_ = fn.enable_interrupts(p, &vector_, 1, &used).ok();
    }

    for (unsigned port = 0; port < ports && disk_count_ < max_disks; ++port) {
        if (!(implemented & (1u << port))) continue;
        auto s = disks_[disk_count_].bring_up(*this, port);
        if (s.ok()) ++disk_count_;
        else if (s.error() != lib::Error::not_found) problem_[port] = s.error();
    }
    if (!disk_count_) return lib::Error::not_found;
    wr(reg::is, ~0u);
    if (msi_) wr(reg::ghc, ghc::ahci_enable | ghc::interrupts);
    return {};
}

// ---- a port and its disk ----

uint32_t AhciDisk::rd(uint64_t r) { return hba_->rd(reg::port(port_) + r); }
void AhciDisk::wr(uint64_t r, uint32_t v) { hba_->wr(reg::port(port_) + r, v); }

lib::Status AhciDisk::stop_engines(bool fis_too)
{
    // 10.3.2: ST off, then CR clears; FRE off, then FR clears.
    uint32_t cmd = rd(preg::cmd);
    if (cmd & pcmd::start) wr(preg::cmd, cmd & ~pcmd::start);
    TRY(hba_->wait_for(reg::port(port_) + preg::cmd, pcmd::list_running, 0, engine_timeout_ns));
    if (!fis_too) return {};
    cmd = rd(preg::cmd);
    if (cmd & pcmd::fis_receive) wr(preg::cmd, cmd & ~pcmd::fis_receive);
    return hba_->wait_for(reg::port(port_) + preg::cmd, pcmd::fis_running, 0, engine_timeout_ns);
}

lib::Status AhciDisk::wait_not_busy(uint64_t timeout_ns)
{
    return hba_->wait_for(reg::port(port_) + preg::tfd, tfd::bsy | tfd::drq, 0, timeout_ns);
}

lib::Status AhciDisk::start_engines()
{
    TRY(wait_not_busy(device_ready_timeout_ns));
    wr(preg::cmd, rd(preg::cmd) | pcmd::start);
    return {};
}

lib::Status AhciDisk::bring_up(AhciHba& hba, unsigned port)
{
    hba_ = &hba;
    port_ = port;
    ready_ = false;
    DevicePlatform& p = *hba.platform_;
    TRY(stop_engines(true));

    if (!mem_.va) mem_ = TRY(p.alloc_dma(port_memory));
    if (!(hba.cap_ & cap::addr64) && high(mem_.bus + port_memory - 1)) return lib::Error::unsupported;
    list_ = static_cast<CommandHeader*>(mem_.va);
    wr(preg::clb, low(mem_.bus + list_offset));
    wr(preg::clbu, high(mem_.bus + list_offset));
    wr(preg::fb, low(mem_.bus + fis_offset));
    wr(preg::fbu, high(mem_.bus + fis_offset));
    wr(preg::cmd, rd(preg::cmd) | pcmd::fis_receive);

    uint32_t cmd = rd(preg::cmd);
    if (hba.cap_ & cap::staggered_spin_up) cmd |= pcmd::spin_up | pcmd::power_on;
    wr(preg::cmd, cmd);

    // The link: an empty port shows no presence at all; a device that is
    // there gets a second to bring its phy up.
    uint64_t start = p.now_ns();
    for (;;) {
        uint32_t det = ssts::det(rd(preg::ssts));
        if (det == ssts::det_present) break;
        uint64_t waited = p.now_ns() - start;
        if ((det == 0 && waited >= empty_port_ns) || waited >= link_timeout_ns) {
            (void)stop_engines(true);
            return lib::Error::not_found;
        }
        p.delay_us(1000);
    }
    // From here a port given up must stop receiving FISes: its area is
    // the next port's once this object moves on to it.
    auto give_up = [&](lib::Status s) {
        wr(preg::ie, 0);
        (void)stop_engines(true);
        return s;
    };
    wr(preg::serr, ~0u);
    if (!wait_not_busy(device_ready_timeout_ns).ok()) return give_up(lib::Error::busy);
    if (rd(preg::sig) != signature_ata) return give_up(lib::Error::unsupported);  // ATAPI, port multiplier, enclosure
    wr(preg::is, ~0u);
    wr(preg::ie, port_interrupts);
    if (auto s = start_engines(); !s.ok()) return give_up(s);
    if (auto s = identify(); !s.ok()) return give_up(s);
    ready_ = true;
    return {};
}

void AhciDisk::build(unsigned slot, uint8_t command, uint64_t lba, uint32_t sectors, uint64_t bus, uint32_t bytes,
                     bool write, bool queued)
{
    auto* table = static_cast<uint8_t*>(mem_.va) + tables_offset + slot * table_bytes;
    __builtin_memset(table, 0, table_prdt + sizeof(Prd));
    RegisterH2D f{};
    f.type = fis_register_h2d;
    f.flags = fis_command;
    f.command = command;
    f.device = command == ata::identify ? 0 : device_lba;
    f.lba0 = uint8_t(lba);
    f.lba1 = uint8_t(lba >> 8);
    f.lba2 = uint8_t(lba >> 16);
    f.lba3 = uint8_t(lba >> 24);
    f.lba4 = uint8_t(lba >> 32);
    f.lba5 = uint8_t(lba >> 40);
    if (queued) {
        // FPDMA: the count moves to the features, the tag into the count.
        f.feature_low = uint8_t(sectors);
        f.feature_high = uint8_t(sectors >> 8);
        f.count_low = uint8_t(slot << 3);
    } else {
        f.count_low = uint8_t(sectors);  // 65536 is 0
        f.count_high = uint8_t(sectors >> 8);
    }
    __builtin_memcpy(table + table_cfis, &f, sizeof f);
    if (bytes) {
        Prd d{low(bus), high(bus), 0, (bytes - 1) | 1u << 31};
        __builtin_memcpy(table + table_prdt, &d, sizeof d);
    }
    CommandHeader h{};
    h.flags = uint16_t(sizeof(RegisterH2D) / 4) | (write ? header_write : 0);
    h.prdtl = bytes ? 1 : 0;
    uint64_t table_bus = mem_.bus + tables_offset + slot * table_bytes;
    h.ctba = low(table_bus);
    h.ctbau = high(table_bus);
    __builtin_memcpy(&list_[slot], &h, sizeof h);
}

void AhciDisk::issue(unsigned slot, bool queued)
{
    // The command table and header must be in memory before the HBA hears of them.
    __atomic_thread_fence(__ATOMIC_RELEASE);
    uint32_t bit = 1u << slot;
    if (queued) wr(preg::sact, bit);  // before CI (AHCI 5.3.2.1)
    wr(preg::ci, bit);
    issued_ |= bit;
}

lib::Status AhciDisk::run_sync(unsigned slot, uint64_t timeout_ns)
{
    DevicePlatform& p = *hba_->platform_;
    issue(slot, false);
    uint64_t deadline = p.now_ns() + timeout_ns;
    for (;;) {
        uint32_t is = rd(preg::is);
        if (is & pis::fatal) {
            wr(preg::is, is);
            issued_ = 0;
            return lib::Error::io;
        }
        if (!(rd(preg::ci) & (1u << slot))) {
            wr(preg::is, is);
            issued_ &= ~(1u << slot);
            return (rd(preg::tfd) & tfd::err) ? lib::Status{lib::Error::io} : lib::Status{};
        }
        if (p.now_ns() >= deadline) return lib::Error::busy;
        p.delay_us(10);
    }
}

lib::Status AhciDisk::identify()
{
    uint64_t buf = mem_.bus + identify_offset;
    build(0, ata::identify, 0, 0, buf, 512, false, false);
    TRY(run_sync(0, command_timeout_ns));
    const auto* w = reinterpret_cast<const uint16_t*>(static_cast<uint8_t*>(mem_.va) + identify_offset);
    if (w[id::general] & 0x8000) return lib::Error::unsupported;
    if (!(w[id::command_set_2] & (1u << 10))) return lib::Error::unsupported;  // no 48-bit addresses
    uint64_t sectors = 0;
    for (unsigned i = 0; i < 4; ++i) sectors |= uint64_t(w[id::lba48_sectors + i]) << 16 * i;
    if (!sectors) return lib::Error::not_found;
    uint32_t sector_size = 512;
    if ((w[id::sector_size_info] & 0xc000) == 0x4000 && (w[id::sector_size_info] & (1u << 12))) {
        uint32_t words = w[id::logical_sector_words] | uint32_t(w[id::logical_sector_words + 1]) << 16;
        sector_size = 2 * words;
    }
    if (sector_size < 512 || sector_size > 4096 || (sector_size & (sector_size - 1))) return lib::Error::unsupported;
    identify_string(w + id::model, id::model_words, info_.model, sizeof info_.model);
    identify_string(w + id::serial, id::serial_words, info_.serial, sizeof info_.serial);
    info_.sector_size = sector_size;
    info_.sectors = sectors;
    info_.max_sectors = max_transfer_bytes / sector_size;
    info_.writable = true;
    info_.volatile_cache = w[id::enabled_1] & (1u << 5);
    flush_ext_ = w[id::command_set_2] & (1u << 13);
    ncq_ = (hba_->cap_ & cap::ncq) && (w[id::sata_caps] & (1u << 8));
    unsigned depth = ncq_ ? (w[id::queue_depth] & 0x1fu) + 1 : 1;
    unsigned hba_slots = cap::slots(hba_->cap_);
    slots_ = depth < hba_slots ? depth : hba_slots;
    if (slots_ < 2) ncq_ = false;  // a queue of one: plain DMA commands do the same
    if (!ncq_) slots_ = 1;
    return {};
}

lib::Status AhciDisk::submit(BlockRequest& r)
{
    if (!ready_) return lib::Error::invalid;  // bring-up did not finish, or the port died
    uint32_t bytes = 0;
    switch (r.op) {
    case BlockOp::flush:
        if (r.sectors != 0) return lib::Error::invalid;
        break;
    case BlockOp::read:
    case BlockOp::write:
        if (r.sectors == 0 || r.sectors > info_.max_sectors) return lib::Error::invalid;
        if (r.lba >= info_.sectors || r.sectors > info_.sectors - r.lba) return lib::Error::invalid;
        bytes = r.sectors * info_.sector_size;
        if (r.bus == 0 || (r.bus & 1)) return lib::Error::invalid;  // a PRD's base is word aligned
        if (!(hba_->cap_ & cap::addr64) && high(r.bus + bytes - 1)) return lib::Error::invalid;
        break;
    default: return lib::Error::invalid;
    }
    if (non_queued_ || retry_count_) return lib::Error::busy;
    bool write = r.op == BlockOp::write;
    if (r.op == BlockOp::flush || !ncq_) {
        // Not queued: alone on the port, in slot 0.
        if (in_flight_) return lib::Error::busy;
        if (r.op == BlockOp::flush)
            build(0, flush_ext_ ? ata::flush_cache_ext : ata::flush_cache, 0, 0, 0, 0, false, false);
        else
            build(0, write ? ata::write_dma_ext : ata::read_dma_ext, r.lba, r.sectors, r.bus, bytes, write, false);
        non_queued_ = true;
        slot_req_[0] = &r;
        ++in_flight_;
        issue(0, false);
        return {};
    }
    uint32_t all = slots_ == 32 ? ~0u : (1u << slots_) - 1;
    uint32_t free = all & ~issued_;
    if (!free) return lib::Error::busy;
    unsigned slot = unsigned(__builtin_ctz(free));
    build(slot, write ? ata::write_fpdma_queued : ata::read_fpdma_queued, r.lba, r.sectors, r.bus, bytes, write,
          true);
    slot_req_[slot] = &r;
    ++in_flight_;
    issue(slot, true);
    return {};
}

void AhciDisk::fail_all()
{
    // The port is gone: nothing in flight will complete.
    ready_ = false;
    BlockRequest* lost[2 * max_command_slots];
    unsigned n = 0;
    for (unsigned s = 0; s < max_command_slots; ++s)
        if (slot_req_[s]) {
            lost[n++] = slot_req_[s];
            slot_req_[s] = nullptr;
        }
    for (unsigned i = 0; i < retry_count_; ++i) lost[n++] = retry_[i];
    retry_count_ = 0;
    issued_ = 0;
    in_flight_ = 0;
    non_queued_ = false;
    for (unsigned i = 0; i < n; ++i)
        if (lost[i]->done) lost[i]->done(*lost[i], lib::Error::io);
}

lib::Status AhciDisk::comreset()
{
    uint32_t sctl = rd(preg::sctl) & ~0xfu;
    wr(preg::sctl, sctl | 1);  // DET = 1: COMRESET, held at least 1 ms
    hba_->platform_->delay_us(1000);
    wr(preg::sctl, sctl);
    TRY(hba_->wait_for(reg::port(port_) + preg::ssts, 0xf, ssts::det_present, link_timeout_ns));
    wr(preg::serr, ~0u);
    wr(preg::is, ~0u);
    return {};
}

int AhciDisk::recover(bool queued)
{
    // 6.2.2: clearing ST drops PxCI and PxSACT; a device still busy gets a
    // COMRESET; then the port starts again.
    ++recoveries_;
    issued_ = 0;
    if (!stop_engines(false).ok()) {
        fail_all();
        return -1;
    }
    wr(preg::serr, ~0u);
    wr(preg::is, ~0u);
    bool reset = (rd(preg::tfd) & (tfd::bsy | tfd::drq)) != 0;
    if ((reset && !comreset().ok()) || !start_engines().ok()) {
        fail_all();
        return -1;
    }
    if (!queued || reset) return -1;  // a reset cleared the device's queue state
    // After a queued error the device takes nothing but READ LOG EXT of
    // the NCQ error log (or a reset) (SATA 3.x 13.6.3.2).
    uint64_t buf = mem_.bus + identify_offset;
    build(0, ata::read_log_ext, ata::log_ncq_error, 1, buf, 512, false, false);
    if (run_sync(0, command_timeout_ns).ok()) {
        issued_ = 0;
        uint8_t first = *(static_cast<const uint8_t*>(mem_.va) + identify_offset);
        return (first & ata::log_ncq_not_queued) ? -1 : int(first & ata::log_ncq_tag_mask);
    }
    // The log could not be read: a COMRESET ends the error state instead.
    issued_ = 0;
    if (!stop_engines(false).ok() || !comreset().ok() || !start_engines().ok()) fail_all();
    return -1;
}

void AhciDisk::start_retry()
{
    if (!retry_count_ || in_flight_ || !ready_) return;
    BlockRequest& r = *retry_[0];
    for (unsigned i = 1; i < retry_count_; ++i) retry_[i - 1] = retry_[i];
    --retry_count_;
    bool write = r.op == BlockOp::write;
    build(0, write ? ata::write_dma_ext : ata::read_dma_ext, r.lba, r.sectors, r.bus, r.sectors * info_.sector_size,
          write, false);
    non_queued_ = true;
    slot_req_[0] = &r;
    ++in_flight_;
    issue(0, false);
}

unsigned AhciDisk::poll()
{
    if (!ready_) return 0;
    BlockRequest* finished[max_command_slots];
    bool ok[max_command_slots];
    unsigned n = 0;
    uint32_t is = rd(preg::is);
    if (is) {
        wr(preg::is, is);
        hba_->wr(reg::is, 1u << port_);
    }
    // CI before SACT: a queued command leaves CI when the HBA fetches it and
    // SACT when it completes, so a slot clear in both has completed.
    uint32_t active = rd(preg::ci) | rd(preg::sact);
    uint32_t error_slots = 0;
    if (is & pis::fatal) {
        // Those still active were aborted or failed: a non-queued command
        // failed; queued ones are retried alone (the device does not say
        // which of them failed).
        error_slots = issued_ & active;
        active = 0;
    }
    bool queued_error = error_slots && !non_queued_;
    for (uint32_t done = issued_ & ~error_slots & ~active; done; done &= done - 1) {
        unsigned s = unsigned(__builtin_ctz(done));
        if (!slot_req_[s]) continue;
        finished[n] = slot_req_[s];
        ok[n++] = true;
        slot_req_[s] = nullptr;
        --in_flight_;
    }
    issued_ &= active;
    if (is & pis::fatal) {
        // The port restarts first: a failure there fails every request.
        int failed_tag = recover(queued_error);
        for (uint32_t e = error_slots; e; e &= e - 1) {
            unsigned s = unsigned(__builtin_ctz(e));
            if (!slot_req_[s]) continue;
            if (!queued_error || int(s) == failed_tag) {
                finished[n] = slot_req_[s];
                ok[n++] = false;
            } else {
                retry_[retry_count_++] = slot_req_[s];
            }
            slot_req_[s] = nullptr;
            --in_flight_;
        }
    }
    if (!in_flight_) non_queued_ = false;
    start_retry();
    for (unsigned i = 0; i < n; ++i)
        if (finished[i]->done) finished[i]->done(*finished[i], ok[i] ? lib::Status{} : lib::Status{lib::Error::io});
    return n;
}

unsigned AhciDisk::wait(uint64_t timeout_ns)
{
    if (!ready_) return 0;
    if (unsigned n = poll()) return n;
    DevicePlatform& p = *hba_->platform_;
    if (hba_->msi_) {
        // The HBA's one MSI serves every port: a wakeup meant for another
        // disk only costs that disk's waiter its timeout.
        p.wait_event(hba_->vector_.event, timeout_ns);
        return poll();
    }
    uint64_t deadline = p.now_ns() + timeout_ns;
    for (;;) {
        if (unsigned n = poll()) return n;
        if (p.now_ns() >= deadline || !in_flight_) return 0;
        p.delay_us(20);
    }
}

}  // namespace drivers::ahci
