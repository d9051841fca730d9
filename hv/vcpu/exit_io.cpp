// Port I/O exits: the domain's port-range handlers, for single and string
// (INS/OUTS, REP) forms. Unclaimed ports read as all ones and ignore writes,
// as on a PC bus with nothing behind the port.
#include "hv/domain/domain.hpp"
#include "hv/vcpu/guest_view.hpp"
#include "hv/vcpu/vcpu.hpp"

namespace hv {
namespace {

constexpr uint32_t size_mask(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1; }

// Most iterations of a REP INS/OUTS done per exit; the rest re-exits, so a
// huge count cannot hold the CPU.
constexpr uint64_t max_rep_per_exit = 4096;

uint32_t port_access(Vcpu& v, uint16_t port, unsigned size, bool in, uint32_t value)
{
    Domain& d = *v.domain;
    for (size_t i = 0; i < d.port_count; ++i) {
        const PortHandler& h = d.ports[i];
        if (port >= h.base && port - h.base < h.count) {
            uint32_t val = value & size_mask(size);
            if (h.handle(v, port, size, in, val)) return val & size_mask(size);
            break;
        }
    }
    return in ? size_mask(size) : 0;
}

void string_io(Vcpu& v, const VmExit& x, uint8_t len)
{
    const IoExit& io = x.io;
    x86::Regs regs = emulator_regs(v);
    x86::Paging paging = emulator_paging(v);
    x86::GuestPhys ram = guest_ram(*v.domain);
    uint64_t amask = io.addr_size == 8 ? ~0ull : io.addr_size == 4 ? 0xffffffffull : 0xffffull;
    auto& count_reg = regs[x86::Gpr::rcx];
    auto& index_reg = io.in ? regs[x86::Gpr::rdi] : regs[x86::Gpr::rsi];
    // OUTS reads DS:RSI (segment overrides are rare on port strings and
    // QEMU/hardware report no segment without decode assists); INS writes ES:RDI.
    uint64_t seg_base = io.in ? regs.seg_base[size_t(x86::Seg::es)] : regs.seg_base[size_t(x86::Seg::ds)];
    int64_t step = (regs.rflags & x86::rflags::df) ? -int64_t(io.size) : int64_t(io.size);
    uint64_t todo = io.rep ? (count_reg & amask) : 1;
    uint64_t done = 0;
    while (done < todo && done < max_rep_per_exit) {
        uint64_t linear = seg_base + (index_reg & amask);
        auto t = x86::translate(paging, ram, linear, {.write = io.in, .user = regs.cpl == 3});
        if (!t.ok()) {
            deliver_fault(v, t.error());
            break;
        }
        uint64_t gpa = t->gpa;
        uint32_t value = 0;
        if (io.in) {
            value = port_access(v, io.port, io.size, true, 0);
            if (!copy_to_guest(*v.domain, gpa, &value, io.size).ok()) {
                crash_domain(*v.domain, "vCPU %u: INS into non-RAM guest address %#lx", v.id, gpa);
                return;
            }
        } else {
            if (!copy_from_guest(*v.domain, gpa, &value, io.size).ok()) {
                crash_domain(*v.domain, "vCPU %u: OUTS from non-RAM guest address %#lx", v.id, gpa);
                return;
            }
            port_access(v, io.port, io.size, false, value);
        }
        index_reg = (index_reg & ~amask) | ((index_reg + step) & amask);
        ++done;
        if (io.rep) count_reg = (count_reg & ~amask) | ((count_reg - 1) & amask);
    }
    bool finished = !io.rep || (count_reg & amask) == 0;
    if (finished && done == todo) regs.rip += len;  // else re-execute to continue (or deliver the fault)
    apply_emulator_regs(v, regs);
}

}  // namespace

void handle_io(Vcpu& v, const VmExit& x)
{
    uint8_t len = x.insn_len ? x.insn_len : decode_insn_length(v);
    if (!len) return;
    const IoExit& io = x.io;
    if (io.string) {
        string_io(v, x, len);
        return;
    }
    if (!io.in && ioevent_fire(v, io.port, false)) {
        v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + len);
        return;
    }
    if (!io.in && iobuf_write(v, io.port, io.size, uint32_t(v.gprs[Gpr::rax]) & size_mask(io.size))) {
        v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + len);
        return;
    }
    uint32_t latched = 0;
    if (io.in && io.size == 1 && latch_read(*v.domain, io.port, latched)) {
        v.gprs[Gpr::rax] = (v.gprs[Gpr::rax] & ~0xffull) | latched;
        v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + len);
        return;
    }
    if (port_forwarded(*v.domain, io.port)) {
        post_ioreq(v, io.port, io.size, io.in, uint32_t(v.gprs[Gpr::rax]) & size_mask(io.size), len);
        return;
    }
    if (io.in) {
        uint32_t val = port_access(v, io.port, io.size, true, 0);
        uint64_t& rax = v.gprs[Gpr::rax];
        // IN EAX zero-extends into RAX; IN AL/AX keep the other bits.
        rax = io.size == 4 ? val : (rax & ~uint64_t(size_mask(io.size))) | val;
    } else {
        port_access(v, io.port, io.size, false, uint32_t(v.gprs[Gpr::rax]));
    }
    if (v.domain->state == DomainState::running) v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + len);
}

}  // namespace hv
