#include "vmm/hostdev/hv_platform.hpp"

#include "vmm/rt/events.hpp"
#include "vmm/rt/hypercall.hpp"

namespace vmm::hostdev {
namespace {

// Where Dom0 maps device windows and DMA buffers (docs/abi.md's address
// map leaves 0x3000_0000_0000 up to Dom0's own use; xl selftest takes
// 0x3000_0000_0000 itself).
constexpr uint64_t device_window = 0x0000'3100'0000'0000ull;
constexpr uint64_t device_window_size = 1ull << 40;

lib::Error error_of(hv::abi::Status s)
{
    switch (s) {
    case hv::abi::Status::no_memory: return lib::Error::no_memory;
    case hv::abi::Status::denied: return lib::Error::denied;
    case hv::abi::Status::not_found: return lib::Error::not_found;
    case hv::abi::Status::unsupported: return lib::Error::unsupported;
    case hv::abi::Status::out_of_range: return lib::Error::out_of_range;
    default: return lib::Error::invalid;
    }
}

}  // namespace

uint32_t HvPciBus::read(uint32_t bdf, uint16_t reg, unsigned width)
{
    auto r = hc::pci_config_read(control_, uint64_t(bdf) << 8 | reg, width);
    return r.ok() ? uint32_t(r.value) : (width == 4 ? ~0u : (1u << (8 * width)) - 1);
}

void HvPciBus::write(uint32_t bdf, uint16_t reg, unsigned width, uint32_t value)
{
    (void)hc::pci_config_write(control_, uint64_t(bdf) << 8 | reg, width, value);
}

lib::Result<drivers::MmioWindow*> HvPlatform::map_mmio(uint64_t phys, uint64_t size)
{
    if ((phys | size) & 0xfff || !size) return lib::Error::invalid;
    for (unsigned i = 0; i < window_count_; ++i)  // a window already covering it
        if (windows_[i].phys == phys && windows_[i].size == size)
            return static_cast<drivers::MmioWindow*>(&windows_[i]);
    if (window_count_ == max_windows) return lib::Error::no_memory;
    if (next_va_ + size > device_window_size) return lib::Error::no_memory;
    uint64_t va = device_window + next_va_;
    if (auto r = hc::device_mmio_map(control_, phys, size, va); !r.ok()) return error_of(r.status);
    next_va_ += size + 0x1000;  // a guard page between windows
    Window& w = windows_[window_count_++];
    w.base = reinterpret_cast<volatile uint8_t*>(va);
    w.phys = phys;
    w.size = size;
    return static_cast<drivers::MmioWindow*>(&w);
}

lib::Result<drivers::DmaBuffer> HvPlatform::alloc_dma(size_t size)
{
    if (!size || size & 0xfff || size > (2u << 20)) return lib::Error::invalid;
    if (next_va_ + size > device_window_size) return lib::Error::no_memory;
    auto region = hc::region_create(size);
    if (!region.ok()) return error_of(region.status);
    uint32_t h = uint32_t(region.value);
    uint64_t va = device_window + next_va_;
    if (auto r = hc::region_map(h, va, true); !r.ok()) {
        (void)hc::handle_close(h);
        return error_of(r.status);
    }
    auto bus = hc::region_phys(h);
    if (!bus.ok()) return error_of(bus.status);
    next_va_ += size + 0x1000;
    dma_bytes_ += size;
    // The handle stays open: the buffer lives as long as Dom0's drivers.
    return drivers::DmaBuffer{reinterpret_cast<void*>(va), bus.value, size};
}

lib::Result<drivers::MsiVector> HvPlatform::bind_msi()
{
    hv::abi::MsiMessage m{};
    auto r = hc::device_msi_bind(control_, &m);
    if (!r.ok()) return error_of(r.status);
    events().set_masked(m.port, true);  // unmasked only while a driver waits on it
    return drivers::MsiVector{m.address, m.data, m.port};
}

bool HvPlatform::wait_event(uint32_t event, uint64_t timeout_ns)
{
    uint64_t deadline = hc::clock_ns() + timeout_ns;
    events().set_masked(event, false);
    bool fired = false;
    for (;;) {
        if (events().take(event)) {
            fired = true;
            break;
        }
        uint64_t now = hc::clock_ns();
        if (now >= deadline) break;
        // evtchn_wait names the lowest pending unmasked port, which may be
        // a guest's doorbell: then give the others the CPU and look again.
        auto w = hc::evtchn_wait(deadline - now);
        if (w.ok() && w.value && w.value != event) (void)hc::yield();
    }
    events().set_masked(event, true);
    // A bit set between the take and the mask waits for the next call.
    return fired;
}

uint64_t HvPlatform::now_ns() { return hc::clock_ns(); }

void HvPlatform::delay_us(uint64_t us)
{
    uint64_t until = hc::clock_ns() + us * 1000;
    while (hc::clock_ns() < until) asm volatile("pause");
}

}  // namespace vmm::hostdev
