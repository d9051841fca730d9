// Dom0's side of its event page (hv/abi/evtchn_abi.h): hv sets pending bits,
// Dom0 takes them (atomic test-and-clear) and masks or unmasks ports itself.
#pragma once

#include <cstdint>

#include "hv/abi/evtchn_abi.h"

namespace vmm {

class EventPage {
public:
    void init(uint64_t va) { page_ = reinterpret_cast<hv_evtchn_shared*>(va); }
    bool ready() const { return page_ != nullptr; }
    // Clears port's pending bit; true if it was set.
    bool take(uint32_t port)
    {
        if (!page_ || port >= HV_EVTCHN_MAX_PORTS) return false;
        uint64_t bit = 1ull << (port % 64);
        return __atomic_fetch_and(&page_->pending[port / 64], ~bit, __ATOMIC_ACQ_REL) & bit;
    }
    // Masked ports stay pending without waking anyone or ending an
    // ioreq_wait/evtchn_wait: a driver keeps its device's port masked except
    // while it waits on it, so an interrupt that arrives after the driver
    // found its completion by polling does not look like work to the
    // device-model loop.
    void set_masked(uint32_t port, bool masked)
    {
        if (!page_ || port >= HV_EVTCHN_MAX_PORTS) return;
        uint64_t bit = 1ull << (port % 64);
        if (masked) __atomic_fetch_or(&page_->mask[port / 64], bit, __ATOMIC_ACQ_REL);
        else __atomic_fetch_and(&page_->mask[port / 64], ~bit, __ATOMIC_ACQ_REL);
    }
    // The lowest pending port >= from, or 0.
    uint32_t next_pending(uint32_t from) const
    {
        if (!page_) return 0;
        for (uint32_t p = from; p < HV_EVTCHN_MAX_PORTS; ++p) {
            uint64_t word = __atomic_load_n(&page_->pending[p / 64], __ATOMIC_ACQUIRE);
            if (!word) {
                p |= 63;
                continue;
            }
            if (word & (1ull << (p % 64))) return p;
        }
        return 0;
    }

private:
    hv_evtchn_shared* page_ = nullptr;
};

EventPage& events();

}  // namespace vmm
