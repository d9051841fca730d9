// What a disk driver offers the rest of Dom0: a sector-addressed,
// asynchronous queue of reads, writes and flushes whose data buffers are DMA
// memory (DevicePlatform::alloc_dma). vmm/hostdev puts a File on it (with
// partitions from the GPT) so that the image formats run on real disks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace drivers {

enum class BlockOp : uint8_t { read, write, flush };

struct BlockRequest {
    BlockOp op = BlockOp::read;
    uint64_t lba = 0;       // in the device's logical sectors
    uint32_t sectors = 0;   // 1..BlockInfo::max_sectors (0 for a flush)
    void* va = nullptr;     // the data: sectors * sector_size bytes of one DMA buffer
    uint64_t bus = 0;       // the same bytes' bus address
    void (*done)(BlockRequest&, lib::Status) = nullptr;
    void* ctx = nullptr;
};

struct BlockInfo {
    uint32_t sector_size = 512;  // logical sector, bytes
    uint64_t sectors = 0;        // capacity
    uint32_t max_sectors = 0;    // per request
    bool writable = false;
    bool volatile_cache = false; // writes need a flush to be durable
    char model[48] = {};         // for xl's listing
    char serial[24] = {};
};

class BlockDevice {
public:
    virtual const BlockInfo& info() const = 0;
    // Queues r; `busy` when the device's queue is full (poll, then retry);
    // `invalid` for a request outside the disk or over max_sectors; `denied`
    // for a write to a read-only disk. The completion runs from poll().
    virtual lib::Status submit(BlockRequest& r) = 0;
    // Runs the completions of finished requests; the number run.
    virtual unsigned poll() = 0;
    // Blocks until the device interrupts or timeout_ns passes, then polls.
    virtual unsigned wait(uint64_t timeout_ns) = 0;
    // Requests submitted and not yet completed.
    virtual unsigned outstanding() const = 0;

protected:
    ~BlockDevice() = default;
};

}  // namespace drivers
