#include "drivers/nvme/nvme.hpp"

#include "lib/str.hpp"

namespace drivers::nvme {

namespace {

constexpr uint64_t page_size = 4096;  // CC.MPS = 0
constexpr uint16_t admin_depth = 8;   // init issues one command at a time
constexpr uint64_t ms_ns = 1000 * 1000;
constexpr uint64_t admin_timeout_ns = 10000 * ms_ns;
constexpr uint32_t namespace_id = 1;

// SN and MN are space padded to their full width; some controllers pad with
// NULs instead.
lib::StrView without_padding(const char* field, size_t width)
{
    while (width && (field[width - 1] == ' ' || field[width - 1] == '\0')) --width;
    return {field, width};
}

// The next completion if the controller posted one (its phase tag is the
// one expected): copied out, the head advanced and the phase flipped on wrap.
// The caller rings the head doorbell.
bool take_completion(QueuePair& q, CompletionEntry& out)
{
    CompletionEntry* e = &q.cq[q.cq_head];
    // Acquire: the other fields are read only after the phase says the
    // controller finished writing them.
    uint16_t status = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
    if (phase_of(status) != q.phase) return false;
    out.status = status;
    out.cid = __atomic_load_n(&e->cid, __ATOMIC_RELAXED);
    out.dw0 = __atomic_load_n(&e->dw0, __ATOMIC_RELAXED);
    if (++q.cq_head == q.depth) {
        q.cq_head = 0;
        q.phase = !q.phase;
    }
    return true;
}

}  // namespace

lib::Status NvmeDisk::init(pci::Function& fn, DevicePlatform& p)
{
    platform_ = &p;
    if (fn.class_code() != class_code) return lib::Error::unsupported;
    pci::Bar bar0 = fn.bar(0);
    // The spec makes BAR0 a 64-bit BAR; a 32-bit one would work as well.
    if (!bar0.size || bar0.io || bar0.size < reg::doorbells) return lib::Error::unsupported;
    fn.enable(pci::command::memory | pci::command::bus_master);
    regs_ = TRY(p.map_mmio(bar0.base, bar0.size));

    uint64_t caps = regs_->read64(reg::cap);
    if (caps == ~0ull) return lib::Error::io;  // nothing answers at BAR0
    if (!cap::nvm_command_set(caps) || cap::mpsmin(caps) != 0) return lib::Error::unsupported;
    doorbell_stride_ = 4u << cap::dstrd(caps);
    // The doorbells of queues 0 and 1 must be inside the BAR.
    if (reg::doorbells + 4ull * doorbell_stride_ > bar0.size) return lib::Error::unsupported;
    uint32_t to = cap::timeout_500ms(caps);
    ready_timeout_ns_ = uint64_t(to ? to : 1) * 500 * ms_ns;

    TRY(reset_and_enable());
    TRY(identify());

    msi_ = TRY(p.bind_msi());
    unsigned used = 0;
    TRY(fn.enable_interrupts(p, &msi_, 1, &used));

    uint32_t depth = cap::mqes(caps) + 1;
    if (depth > max_slots + 1) depth = max_slots + 1;
    TRY(create_io_queues(uint16_t(depth)));
    return {};
}

lib::Status NvmeDisk::wait_ready(bool ready, uint64_t timeout_ns)
{
    uint64_t deadline = platform_->now_ns() + timeout_ns;
    for (;;) {
        uint32_t s = regs_->read32(reg::csts);
        if (s == ~0u) return lib::Error::io;  // surprise removal reads all ones
        if (ready && (s & csts::fatal)) return lib::Error::io;
        if (bool(s & csts::ready) == ready) return {};
        if (platform_->now_ns() >= deadline) return lib::Error::busy;
        platform_->delay_us(100);
    }
}

lib::Status NvmeDisk::reset_and_enable()
{
    // Firmware may have left the controller running: disable it so that the
    // admin queue registers can be set (the controller drops all queues).
    uint32_t cc_now = regs_->read32(reg::cc);
    if (cc_now & cc::enable) regs_->write32(reg::cc, cc_now & ~cc::enable);
    TRY(wait_ready(false, ready_timeout_ns_));

    TRY(alloc_queue_pair(admin_q_, 0, admin_depth));
    regs_->write32(reg::aqa, uint32_t(admin_depth - 1) << 16 | (admin_depth - 1));
    regs_->write64(reg::asq, admin_q_.sq_bus);
    regs_->write64(reg::acq, admin_q_.cq_bus);
    // NVM command set (CSS 0), 4 KiB pages (MPS 0), round robin (AMS 0).
    regs_->write32(reg::cc, cc::iosqes_64 | cc::iocqes_16 | cc::enable);
    return wait_ready(true, ready_timeout_ns_);
}

lib::Status NvmeDisk::alloc_queue_pair(QueuePair& q, uint16_t id, uint16_t depth)
{
    static_assert(NvmeDisk::max_slots + 1 <= page_size / sizeof(SubmissionEntry));
    // One page for each queue: both must start page aligned (PC = 1).
    DmaBuffer mem = TRY(platform_->alloc_dma(2 * page_size));
    q.id = id;
    q.depth = depth;
    q.sq = static_cast<SubmissionEntry*>(mem.va);
    q.cq = reinterpret_cast<CompletionEntry*>(static_cast<uint8_t*>(mem.va) + page_size);
    q.sq_bus = mem.bus;
    q.cq_bus = mem.bus + page_size;
    q.sq_tail = q.cq_head = 0;
    q.phase = true;  // the memory is zeroed: phase 0 means not yet posted
    q.sq_doorbell = reg::doorbells + (2ull * id) * doorbell_stride_;
    q.cq_doorbell = reg::doorbells + (2ull * id + 1) * doorbell_stride_;
    return {};
}

void NvmeDisk::push(QueuePair& q, const SubmissionEntry& e)
{
    __builtin_memcpy(&q.sq[q.sq_tail], &e, sizeof e);
    if (++q.sq_tail == q.depth) q.sq_tail = 0;
    // The entry (and its PRP list) must be in memory before the controller
    // hears of it.
    __atomic_thread_fence(__ATOMIC_RELEASE);
    regs_->write32(q.sq_doorbell, q.sq_tail);
}

lib::Status NvmeDisk::admin(SubmissionEntry cmd, uint32_t* dw0)
{
    cmd.cid = next_admin_cid_++;
    push(admin_q_, cmd);
    uint64_t deadline = platform_->now_ns() + admin_timeout_ns;
    for (;;) {
        CompletionEntry c;
        if (take_completion(admin_q_, c)) {
            regs_->write32(admin_q_.cq_doorbell, admin_q_.cq_head);
            if (c.cid != cmd.cid) continue;  // not the command waited for
            if (!succeeded(c.status)) return lib::Error::io;
            if (dw0) *dw0 = c.dw0;
            return {};
        }
        if (platform_->now_ns() >= deadline) return lib::Error::busy;
        platform_->delay_us(10);
    }
}

lib::Status NvmeDisk::identify()
{
    identify_buf_ = TRY(platform_->alloc_dma(page_size));

    SubmissionEntry c{};
    c.opcode = admin_op::identify;
    c.prp1 = identify_buf_.bus;
    c.cdw10 = identify_cns::controller;
    TRY(admin(c));
    const auto* ctrl = static_cast<const IdentifyController*>(identify_buf_.va);
    lib::copy_cstr(info_.model, sizeof info_.model, without_padding(ctrl->mn, sizeof ctrl->mn));
    lib::copy_cstr(info_.serial, sizeof info_.serial, without_padding(ctrl->sn, sizeof ctrl->sn));
    info_.volatile_cache = ctrl->vwc & 1;
    // MDTS counts CAP.MPSMIN pages, which init required to be 4 KiB.
    uint64_t max_bytes = max_transfer_bytes;
    if (ctrl->mdts && ctrl->mdts < 32 && (page_size << ctrl->mdts) < max_bytes) max_bytes = page_size << ctrl->mdts;

    c.cdw10 = identify_cns::name_space;
    c.nsid = namespace_id;
    TRY(admin(c));
    const auto* ns = static_cast<const IdentifyNamespace*>(identify_buf_.va);
    if (ns->nsze == 0) return lib::Error::not_found;  // inactive namespaces identify as all zeroes
    unsigned format = (ns->flbas & 0xfu) | ((ns->flbas >> 5) & 3u) << 4;
    if (format > ns->nlbaf) return lib::Error::corrupt;
    const LbaFormat& f = ns->lbaf[format];
    // Metadata would need MPTR or larger transfers than sectors * size.
    if (f.ms != 0 || f.lbads < 9 || f.lbads > 12) return lib::Error::unsupported;
    info_.sector_size = 1u << f.lbads;
    info_.sectors = ns->nsze;
    info_.max_sectors = uint32_t(max_bytes >> f.lbads);
    info_.writable = true;
    return {};
}

lib::Status NvmeDisk::create_io_queues(uint16_t depth)
{
    // One I/O queue pair is all this driver asks for (0-based counts).
    SubmissionEntry c{};
    c.opcode = admin_op::set_features;
    c.cdw10 = feature_number_of_queues;
    c.cdw11 = 0;
    TRY(admin(c));

    TRY(alloc_queue_pair(io_q_, 1, depth));
    uint32_t size_and_id = uint32_t(depth - 1) << 16 | io_q_.id;

    c = {};
    c.opcode = admin_op::create_io_cq;
    c.prp1 = io_q_.cq_bus;
    c.cdw10 = size_and_id;
    c.cdw11 = 0u << 16 | 1u << 1 | 1u;  // vector 0 (the one MSI-X entry), interrupts on, contiguous
    TRY(admin(c));

    c = {};
    c.opcode = admin_op::create_io_sq;
    c.prp1 = io_q_.sq_bus;
    c.cdw10 = size_and_id;
    c.cdw11 = uint32_t(io_q_.id) << 16 | 1u;  // completes to CQ 1, contiguous
    TRY(admin(c));

    slots_ = depth - 1u;
    DmaBuffer lists = TRY(platform_->alloc_dma(slots_ * page_size));
    for (unsigned i = 0; i < slots_; ++i) {
        prp_list_[i] = reinterpret_cast<uint64_t*>(static_cast<uint8_t*>(lists.va) + i * page_size);
        prp_list_bus_[i] = lists.bus + i * page_size;
        free_slots_[i] = uint16_t(slots_ - 1 - i);
    }
    free_count_ = slots_;
    return {};
}

void NvmeDisk::fill_prps(SubmissionEntry& e, unsigned slot, uint64_t bus, uint64_t bytes)
{
    // PRP1 may start anywhere in a page; every further entry is a whole page.
    e.prp1 = bus;
    uint64_t in_first = page_size - (bus & (page_size - 1));
    if (bytes <= in_first) return;
    uint64_t page = (bus & ~(page_size - 1)) + page_size;
    uint64_t rest = bytes - in_first;
    if (rest <= page_size) {
        e.prp2 = page;
        return;
    }
    // max_transfer_bytes keeps the list within one page: no chain entry.
    uint64_t* list = prp_list_[slot];
    unsigned n = 0;
    for (; rest; page += page_size) {
        list[n++] = page;
        rest -= rest < page_size ? rest : page_size;
    }
    e.prp2 = prp_list_bus_[slot];
}

lib::Status NvmeDisk::submit(BlockRequest& r)
{
    if (!slots_) return lib::Error::invalid;  // init did not finish
    SubmissionEntry e{};
    e.nsid = namespace_id;
    switch (r.op) {
    case BlockOp::flush:
        if (r.sectors != 0) return lib::Error::invalid;
        e.opcode = io_op::flush;
        break;
    case BlockOp::read:
    case BlockOp::write:
        if (r.sectors == 0 || r.sectors > info_.max_sectors) return lib::Error::invalid;
        if (r.lba >= info_.sectors || r.sectors > info_.sectors - r.lba) return lib::Error::invalid;
        if (r.bus == 0 || (r.bus & 3)) return lib::Error::invalid;  // PRP entries are dword aligned
        e.opcode = r.op == BlockOp::read ? io_op::read : io_op::write;
        e.cdw10 = uint32_t(r.lba);
        e.cdw11 = uint32_t(r.lba >> 32);
        e.cdw12 = r.sectors - 1;  // NLB is 0-based
        break;
    default: return lib::Error::invalid;
    }
    if (!free_count_) return lib::Error::busy;
    // Slots, not SQ entries, limit what is in flight: with at most depth - 1
    // commands outstanding the submission queue can never be full, whatever
    // head the controller has reached.
    uint16_t slot = free_slots_[--free_count_];
    e.cid = slot;
    if (r.op != BlockOp::flush) fill_prps(e, slot, r.bus, uint64_t(r.sectors) * info_.sector_size);
    slot_req_[slot] = &r;
    ++in_flight_;
    push(io_q_, e);
    return {};
}

unsigned NvmeDisk::poll()
{
    if (!slots_) return 0;
    // Collect first and ring the head doorbell before any completion runs,
    // so that requests a completion submits find the CQ space freed.
    BlockRequest* finished[max_slots];
    bool ok[max_slots];
    unsigned n = 0, seen = 0;
    CompletionEntry c;
    for (; seen < io_q_.depth && take_completion(io_q_, c); ++seen) {
        if (c.cid >= slots_ || !slot_req_[c.cid]) continue;  // no such command: ignored
        finished[n] = slot_req_[c.cid];
        ok[n] = succeeded(c.status);
        ++n;
        slot_req_[c.cid] = nullptr;
        free_slots_[free_count_++] = c.cid;
        --in_flight_;
    }
    if (seen) regs_->write32(io_q_.cq_doorbell, io_q_.cq_head);
    for (unsigned i = 0; i < n; ++i)
        if (finished[i]->done) finished[i]->done(*finished[i], ok[i] ? lib::Status{} : lib::Status{lib::Error::io});
    return n;
}

unsigned NvmeDisk::wait(uint64_t timeout_ns)
{
    if (!slots_) return 0;
    platform_->wait_event(msi_.event, timeout_ns);
    return poll();
}

}  // namespace drivers::nvme
