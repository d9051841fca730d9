// An AHCI SATA host bus adapter and the ATA disks on its ports, each disk a
// BlockDevice. init resets the HBA (after taking it from the BIOS where it
// has the handoff), then brings up every implemented port that has a
// device: its command list and received-FIS area, spin-up, IDENTIFY
// DEVICE. Disks that do native command queuing get up to 32 READ/WRITE
// FPDMA QUEUED commands in flight; others one READ/WRITE DMA EXT at a time.
// FLUSH CACHE EXT is not queued: it waits until the queued commands drain
// (submit answers busy meanwhile). Data goes by one PRD per request (the
// request's buffer is contiguous DMA memory). All ports share the HBA's one
// MSI; without MSI the disks are polled.
//
// A command that fails (PxIS.TFES or a host bus error) stops the port: the
// driver restarts it (a COMRESET when the device stays busy). A queued
// error aborts every queued command: the driver reads the NCQ Command Error
// log (READ LOG EXT 10h, which also lets the device take commands again;
// a COMRESET when that fails), fails the request of the tag it names with
// `io`, and retries the others once each on their own without queuing (all
// of them when the log names none; one that fails again gets `io`).
//
// init's errors: `unsupported` for a function that is not an AHCI HBA or has
// no memory BAR5; `busy` for an HBA whose reset or BIOS handoff does not
// finish; `not_found` when no port has a usable ATA disk. A port whose disk
// cannot be used is skipped and reported by port_problem().
#pragma once

#include <cstdint>

#include "drivers/ahci/ahci_spec.hpp"
#include "drivers/block/block_device.hpp"
#include "drivers/pci/pci_function.hpp"
#include "drivers/platform/device_platform.hpp"
#include "lib/result.hpp"

namespace drivers::ahci {

class AhciHba;

class AhciDisk final : public BlockDevice {
public:
    // 128 KiB per request: one PRD, and what the callers' bounce buffers hold.
    static constexpr uint32_t max_transfer_bytes = 128 * 1024;

    AhciDisk() = default;
    AhciDisk(const AhciDisk&) = delete;
    AhciDisk& operator=(const AhciDisk&) = delete;

    const BlockInfo& info() const override { return info_; }
    lib::Status submit(BlockRequest& r) override;
    unsigned poll() override;
    unsigned wait(uint64_t timeout_ns) override;
    unsigned outstanding() const override { return in_flight_ + retry_count_; }

    unsigned port() const { return port_; }
    bool queued() const { return ncq_; }     // NCQ in use
    unsigned slots() const { return slots_; }  // commands in flight at most
    unsigned recoveries() const { return recoveries_; }  // port restarts after errors

private:
    friend class AhciHba;
    lib::Status bring_up(AhciHba& hba, unsigned port);
    lib::Status stop_engines(bool fis_too);
    lib::Status start_engines();
    lib::Status wait_not_busy(uint64_t timeout_ns);
    lib::Status identify();
    lib::Status run_sync(unsigned slot, uint64_t timeout_ns);
    void build(unsigned slot, uint8_t command, uint64_t lba, uint32_t sectors, uint64_t bus, uint32_t bytes,
               bool write, bool queued);
    void issue(unsigned slot, bool queued);
    // Restarts the port after an error; after a queued one, reads the NCQ
    // error log (which the device requires before it takes commands
    // again) and returns the tag that failed, or -1 when unknown.
    int recover(bool queued);
    lib::Status comreset();
    void start_retry();
    void fail_all();
    uint32_t rd(uint64_t r);
    void wr(uint64_t r, uint32_t v);

    AhciHba* hba_ = nullptr;
    unsigned port_ = 0;
    BlockInfo info_;
    bool ncq_ = false;
    bool flush_ext_ = false;  // FLUSH CACHE EXT, else FLUSH CACHE
    bool ready_ = false;
    unsigned slots_ = 0;
    DmaBuffer mem_;  // command list, received FIS, command tables, IDENTIFY data
    CommandHeader* list_ = nullptr;

    // Slot i is tag i for queued commands.
    BlockRequest* slot_req_[max_command_slots] = {};
    uint32_t issued_ = 0;     // slots with a command the HBA holds
    bool non_queued_ = false;  // the command in flight is not queued (slot 0)
    unsigned in_flight_ = 0;
    // Requests a queued error aborted, retried one at a time, not queued.
    BlockRequest* retry_[max_command_slots] = {};
    unsigned retry_count_ = 0;
    unsigned recoveries_ = 0;
};

class AhciHba {
public:
    static constexpr unsigned max_disks = 8;

    AhciHba() = default;
    AhciHba(const AhciHba&) = delete;
    AhciHba& operator=(const AhciHba&) = delete;

    // Brings up the HBA behind fn (BAR5 as firmware assigned it) and its
    // disks. Call once.
    lib::Status init(pci::Function& fn, DevicePlatform& p);

    unsigned disk_count() const { return disk_count_; }
    AhciDisk& disk(unsigned i) { return disks_[i]; }
    // Why an implemented port with a device attached offers no disk
    // (`unsupported`: an ATAPI or other non-disk device, or no 48-bit
    // addressing; `busy`: it did not become ready; `io`: IDENTIFY failed);
    // Error::none for an empty or working port.
    lib::Error port_problem(unsigned port) const { return port < max_ports ? problem_[port] : lib::Error::none; }

private:
    friend class AhciDisk;
    lib::Status take_from_bios();
    lib::Status reset();
    // Waits up to timeout_ns for (read(r) & mask) == want.
    lib::Status wait_for(uint64_t r, uint32_t mask, uint32_t want, uint64_t timeout_ns);
    uint32_t rd(uint64_t r) { return regs_->read32(abar_ + r); }
    void wr(uint64_t r, uint32_t v) { regs_->write32(abar_ + r, v); }

    DevicePlatform* platform_ = nullptr;
    MmioWindow* regs_ = nullptr;
    uint64_t abar_ = 0;  // ABAR's offset in the mapped pages (a 2 KiB BAR need not start a page)
    uint32_t cap_ = 0;
    bool msi_ = false;
    MsiVector vector_;
    AhciDisk disks_[max_disks];
    unsigned disk_count_ = 0;
    lib::Error problem_[max_ports] = {};
};

}  // namespace drivers::ahci
