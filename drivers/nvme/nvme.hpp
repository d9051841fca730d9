// An NVMe controller's namespace 1 as a BlockDevice: one admin queue pair
// used synchronously during init, one I/O queue pair with one MSI-X (or
// MSI) vector for the requests. Data goes by PRPs built from the request's
// single contiguous DMA buffer; each queue slot owns a PRP list page, so a
// request never waits for memory.
//
// init's errors: `unsupported` for a function that is not an NVMe I/O
// controller or that lacks what the driver needs (NVM command set, 4 KiB
// pages, sectors of 512..4096 bytes without
// metadata); `io` for a controller that reports a fatal status (CSTS.CFS)
// or fails an admin command; `busy` for one that does not become ready,
// disabled or answer an admin command in time; `not_found` when namespace 1
// is inactive or empty.
#pragma once

#include <cstdint>

#include "drivers/block/block_device.hpp"
#include "drivers/nvme/nvme_spec.hpp"
#include "drivers/pci/pci_function.hpp"
#include "drivers/platform/device_platform.hpp"
#include "lib/result.hpp"

namespace drivers::nvme {

// A submission queue and the completion queue it posts to, in DMA memory,
// with their doorbells.
struct QueuePair {
    uint16_t id = 0;
    uint16_t depth = 0;  // entries in each queue
    SubmissionEntry* sq = nullptr;
    CompletionEntry* cq = nullptr;
    uint64_t sq_bus = 0, cq_bus = 0;
    uint16_t sq_tail = 0;
    uint16_t cq_head = 0;
    bool phase = true;  // the phase tag of entries not yet consumed
    uint64_t sq_doorbell = 0, cq_doorbell = 0;
};

class NvmeDisk final : public BlockDevice {
public:
    // Requests in flight at once: the I/O queue's depth less one (a full
    // queue keeps one entry empty), at most this many.
    static constexpr unsigned max_slots = 63;
    // Per-request transfer limit below MDTS: 32 pages (plus one for an
    // unaligned start) fit one PRP list page with no chaining.
    static constexpr uint32_t max_transfer_bytes = 128 * 1024;

    NvmeDisk() = default;
    NvmeDisk(const NvmeDisk&) = delete;
    NvmeDisk& operator=(const NvmeDisk&) = delete;

    // Brings up the controller behind fn (its BARs as firmware assigned
    // them) and namespace 1. Call once.
    lib::Status init(pci::Function& fn, DevicePlatform& p);

    const BlockInfo& info() const override { return info_; }
    lib::Status submit(BlockRequest& r) override;
    unsigned poll() override;
    unsigned wait(uint64_t timeout_ns) override;
    unsigned outstanding() const override { return in_flight_; }

private:
    lib::Status reset_and_enable();
    lib::Status wait_ready(bool ready, uint64_t timeout_ns);
    lib::Status admin(SubmissionEntry cmd, uint32_t* dw0 = nullptr);
    lib::Status identify();
    lib::Status create_io_queues(uint16_t depth);
    lib::Status alloc_queue_pair(QueuePair& q, uint16_t id, uint16_t depth);
    void push(QueuePair& q, const SubmissionEntry& e);
    void fill_prps(SubmissionEntry& e, unsigned slot, uint64_t bus, uint64_t bytes);

    DevicePlatform* platform_ = nullptr;
    MmioWindow* regs_ = nullptr;
    uint32_t doorbell_stride_ = 4;
    uint64_t ready_timeout_ns_ = 0;
    QueuePair admin_q_, io_q_;
    uint16_t next_admin_cid_ = 0;
    DmaBuffer identify_buf_;
    MsiVector msi_;
    BlockInfo info_;

    // Slot i is command identifier i on the I/O queue.
    BlockRequest* slot_req_[max_slots] = {};
    uint64_t prp_list_bus_[max_slots] = {};
    uint64_t* prp_list_[max_slots] = {};
    uint16_t free_slots_[max_slots] = {};
    unsigned free_count_ = 0;
    unsigned slots_ = 0;
    unsigned in_flight_ = 0;
};

}  // namespace drivers::nvme
