#include "hv/domain/domain.hpp"
#include "hv/wall_clock.hpp"

#include <cstdarg>
#include <cstring>
#include <new>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/layout.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/kernel_heap.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/format.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"

namespace hv {
namespace {

uint32_t next_domain_id = 1;
uint32_t next_vcpu_serial = 0;
constexpr uint64_t chunk_2m = 2ull << 20;

// populate() adds chunks in ascending, non-overlapping gpa order, so a binary
// search finds the one holding gpa (guest page walks and copies use this).
const RamChunk* chunk_of(const Domain& d, uint64_t gpa)
{
    size_t lo = 0, hi = d.chunk_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const RamChunk& c = d.chunks[mid];
        if (gpa < c.gpa) hi = mid;
        else if (gpa - c.gpa >= c.size) lo = mid + 1;
        else return &c;
    }
    return nullptr;
}

// Keeps the chunks sorted by gpa (they never overlap).
lib::Status insert_chunk(Domain& d, const RamChunk& c)
{
    if (d.chunk_count == Domain::max_chunks) return lib::err(lib::Error::no_memory);
    size_t at = d.chunk_count;
    while (at > 0 && d.chunks[at - 1].gpa > c.gpa) {
        d.chunks[at] = d.chunks[at - 1];
        --at;
    }
    d.chunks[at] = c;
    ++d.chunk_count;
    return {};
}

lib::Status add_ram(Domain& d, uint64_t gpa, uint64_t hpa, uint64_t size)
{
    if (d.chunk_count == Domain::max_chunks) return lib::err(lib::Error::no_memory);
    TRY(d.p2m.map(gpa, hpa, size, true, true, false));
    memset(arch::phys_to_virt<void>(hpa), 0, size);
    return insert_chunk(d, {gpa, hpa, size});
}

// Fresh RAM for [start, start + bytes): 2 MiB chunks where alignment allows.
lib::Status populate_from(Domain& d, uint64_t start, uint64_t bytes)
{
    uint64_t gpa = start;
    while (gpa < start + bytes) {
        uint64_t left = start + bytes - gpa;
        // 2 MiB chunks where possible, so the p2m can use large pages.
        if (left >= chunk_2m && (gpa & (chunk_2m - 1)) == 0) {
            auto big = mem::alloc_frames({.count = 512, .align = 512});
            if (big.ok()) {
                TRY(add_ram(d, gpa, big.value(), chunk_2m));
                gpa += chunk_2m;
                continue;
            }
        }
        uint64_t page = TRY(mem::alloc_frames({}));
        if (auto r = add_ram(d, gpa, page, arch::page_size); !r.ok()) {
            (void)mem::free_frames(page, 1);
            return r;
        }
        gpa += arch::page_size;
    }
    return {};
}

lib::Status populate(Domain& d, uint64_t bytes) { return populate_from(d, 0, bytes); }

template <typename F> lib::Status for_each_piece(const Domain& d, uint64_t gpa, size_t len, F f)
{
    size_t done = 0;
    while (done < len) {
        const RamChunk* c = chunk_of(d, gpa + done);
        if (!c) return lib::err(lib::Error::out_of_range);
        uint64_t off = gpa + done - c->gpa;
        size_t n = c->size - off < len - done ? size_t(c->size - off) : len - done;
        f(arch::phys_to_virt<uint8_t>(c->hpa + off), done, n);
        done += n;
    }
    return {};
}

// The xAPIC page: every vCPU sees its own local APIC there (in x2APIC mode
// or with the APIC disabled the page is not there: unclaimed memory).
bool on_own_xapic_page(const Vcpu& v, uint64_t gpa)
{
    return v.lapic.mode() == vlapic::Mode::xapic && (gpa & ~0xfffull) == v.lapic.base_address();
}

lib::Result<uint64_t> lapic_mmio_read(Vcpu& v, uint64_t gpa, uint8_t size)
{
    if (!on_own_xapic_page(v, gpa)) return lib::err(lib::Error::not_found);
    arch::SpinGuard g(v.lock);
    return v.lapic.mmio_read(uint32_t(gpa & 0xfff), size, guest_tsc(v));
}

lib::Status lapic_mmio_write(Vcpu& v, uint64_t gpa, uint8_t size, uint64_t value)
{
    if (!on_own_xapic_page(v, gpa)) return lib::err(lib::Error::not_found);
    arch::SpinGuard g(v.lock);
    return v.lapic.mmio_write(uint32_t(gpa & 0xfff), size, value, guest_tsc(v));
}

// The vIOAPIC window. Its registers are 32 bits wide; a 64-bit access
// reaches the register at the low half only.
lib::Result<uint64_t> ioapic_mmio_read(Vcpu& v, uint64_t gpa, uint8_t size)
{
    Domain& d = *v.domain;
    arch::SpinGuard g(d.ioapic_lock);
    uint32_t value = d.ioapic.mmio_read(uint32_t(gpa - vioapic::default_base) & ~3u);
    return uint64_t(value >> ((gpa & 3) * 8)) & (size >= 4 ? 0xffffffffull : (1ull << (size * 8)) - 1);
}

lib::Status ioapic_mmio_write(Vcpu& v, uint64_t gpa, uint8_t, uint64_t value)
{
    Domain& d = *v.domain;
    vioapic::Outbox out;
    {
        arch::SpinGuard g(d.ioapic_lock);
        d.ioapic.mmio_write(uint32_t(gpa - vioapic::default_base), uint32_t(value), out);
    }
    deliver_messages(d, out);
    return {};
}

}  // namespace

lib::Result<Domain*> create_domain(const char* name, uint64_t mem_bytes, uint32_t vcpus)
{
    if (vcpus == 0 || vcpus > Domain::max_vcpus || mem_bytes == 0) return lib::err(lib::Error::invalid);
    void* mem = mem::kernel_heap().allocate(sizeof(Domain), alignof(Domain));
    if (!mem) return lib::err(lib::Error::no_memory);
    auto* d = new (mem) Domain{};
    d->id = next_domain_id++;
    lib::copy_cstr(d->name, sizeof d->name, name);
    d->state = DomainState::building;
    d->mem_bytes = (mem_bytes + arch::page_size - 1) & ~(arch::page_size - 1);
    auto fail = [&](lib::Error e) -> lib::Result<Domain*> {
        destroy_domain(d);
        return lib::err(e);
    };
    auto p2m = arch::virt::GuestPhysMap::create();
    if (!p2m.ok()) return fail(p2m.error());
    d->p2m = p2m.value();
    if (auto s = populate(*d, d->mem_bytes); !s.ok()) return fail(s.error());
    auto iob = mem::alloc_frames({.count = 3});
    if (!iob.ok()) return fail(iob.error());
    d->io_bitmap_pa = iob.value();
    memset(arch::phys_to_virt<void>(d->io_bitmap_pa), 0xff, 3 * arch::page_size);

    auto ev = mem::alloc_frames({});
    if (!ev.ok()) return fail(ev.error());
    d->evtchn_page_pa = ev.value();
    memset(arch::phys_to_virt<void>(d->evtchn_page_pa), 0, arch::page_size);
    if (auto s = d->evtchn.init(d->id, arch::phys_to_virt<obj::EvtchnShared>(d->evtchn_page_pa), 64, vcpus); !s.ok())
        return fail(s.error());
    d->evtchn.set_owner(d);

    d->tsc_offset = 0 - arch::rdtsc();
    d->wallclock_ns = wall_clock_ns();
    d->lapic_bus = create_lapic_bus(*d);
    d->cpuid.local_apic = true;
    if (auto s = add_mmio_handler(*d, {0xfee00000, 0x1000, lapic_mmio_read, lapic_mmio_write}); !s.ok())
        return fail(s.error());
    d->ioapic.reset(0);  // ID 0 as QEMU and KVM give it; the ACPI MADT says the same
    if (auto s = add_mmio_handler(*d, {vioapic::default_base, vioapic::window_size, ioapic_mmio_read, ioapic_mmio_write});
        !s.ok())
        return fail(s.error());
    d->cpuid.vcpu_count = vcpus;
    {
        // Defaults as KVM uses them: PLE gap 128 / window 4096 cycles; a
        // Pause Filter count of 3000 (with threshold 128 where supported).
        // Without a filter every intercepted PAUSE would exit, so PAUSE is
        // then left alone unless a domain asks for it.
        const auto& c = arch::virt::caps();
        bool vmx = c.vendor == arch::virt::Vendor::vmx;
        d->pause = {.enabled = vmx ? c.ple : c.pause_filter, .count = vmx ? 4096u : 3000u, .gap = 128};
        d->directed_yield = true;
    }
    d->cpuid.tsc_khz = arch::lapic::timer_info().tsc_hz / 1000;
    d->cpuid.apic_bus_khz = arch::lapic::timer_info().lapic_hz / 1000;
    for (uint32_t i = 0; i < vcpus; ++i) {
        auto v = create_vcpu(*d, i, next_vcpu_serial++);
        if (!v.ok()) return fail(v.error());
        d->vcpus[i] = v.value();
        d->vcpu_count = i + 1;
    }
    LOG_INFO("dom%u: created '%s' with %lu MiB in %lu chunks, %u vCPU(s)", d->id, d->name, d->mem_bytes >> 20,
             d->chunk_count, vcpus);
    return d;
}

uint64_t ram_end(const Domain& d)
{
    if (!d.chunk_count) return 0;
    const RamChunk& c = d.chunks[d.chunk_count - 1];
    return c.gpa + c.size;
}

bool is_ram(const Domain& d, uint64_t gpa, uint64_t size)
{
    for (uint64_t done = 0; done < size;) {
        const RamChunk* c = chunk_of(d, gpa + done);
        if (!c) return false;
        done += c->gpa + c->size - (gpa + done);
    }
    return true;
}

lib::Status populate_ram(Domain& d, uint64_t gpa, uint64_t size)
{
    if ((gpa | size) & (arch::page_size - 1) || size == 0 || gpa + size < gpa || gpa + size > (1ull << 46))
        return lib::err(lib::Error::invalid);
    for (uint64_t a = gpa; a < gpa + size; a += arch::page_size)
        if (d.p2m.translate(a).ok() || find_mmio_handler(d, a)) return lib::err(lib::Error::exists);
    auto s = populate_from(d, gpa, size);
    if (!s.ok()) {
        // Give back what this call added: its chunks lie inside [gpa, gpa+size)
        // (release_ram counts them off mem_bytes, so count them on first).
        for (size_t i = 0; i < d.chunk_count; ++i)
            if (d.chunks[i].gpa >= gpa && d.chunks[i].gpa < gpa + size) d.mem_bytes += d.chunks[i].size;
        (void)release_ram(d, gpa, size);
        return s;
    }
    d.mem_bytes += size;
    return {};
}

lib::Status release_ram(Domain& d, uint64_t gpa, uint64_t size)
{
    if ((gpa | size) & (arch::page_size - 1) || size == 0 || gpa + size < gpa) return lib::err(lib::Error::invalid);
    uint64_t end = gpa + size;
    // Every chunk overlapping the range loses that part: freed, unmapped,
    // and the chunk shrinks or splits in two.
    for (size_t i = 0; i < d.chunk_count;) {
        RamChunk c = d.chunks[i];
        uint64_t lo = c.gpa > gpa ? c.gpa : gpa, hi = c.gpa + c.size < end ? c.gpa + c.size : end;
        if (lo >= hi) {
            ++i;
            continue;
        }
        (void)d.p2m.unmap(lo, hi - lo);
        (void)mem::free_frames(c.hpa + (lo - c.gpa), (hi - lo) / arch::page_size);
        d.mem_bytes -= hi - lo;
        bool left = lo > c.gpa, right = hi < c.gpa + c.size;
        if (left && right) {
            d.chunks[i] = {c.gpa, c.hpa, lo - c.gpa};
            TRY(insert_chunk(d, {hi, c.hpa + (hi - c.gpa), c.gpa + c.size - hi}));
            i += 2;
        } else if (left) {
            d.chunks[i++] = {c.gpa, c.hpa, lo - c.gpa};
        } else if (right) {
            d.chunks[i++] = {hi, c.hpa + (hi - c.gpa), c.gpa + c.size - hi};
        } else {
            for (size_t k = i + 1; k < d.chunk_count; ++k) d.chunks[k - 1] = d.chunks[k];
            --d.chunk_count;
        }
    }
    return {};
}

void destroy_domain(Domain* d)
{
    if (!d) return;
    for (uint32_t i = 0; i < d->vcpu_count; ++i) destroy_vcpu(d->vcpus[i]);
    for (size_t i = 0; i < d->chunk_count; ++i) {
        const RamChunk& c = d->chunks[i];
        (void)mem::free_frames(c.hpa, c.size / arch::page_size);
    }
    if (d->io_bitmap_pa) (void)mem::free_frames(d->io_bitmap_pa, 3);
    if (d->evtchn_page_pa) (void)mem::free_frames(d->evtchn_page_pa, 1);
    release_grants(*d);  // before the p2m goes: its mappings of the regions go with it
    // The p2m's table frames go back with the map (GuestPhysMap::release).
    d->p2m.release();
    LOG_INFO("dom%u: destroyed", d->id);
    d->~Domain();
    mem::kernel_heap().deallocate(d, sizeof(Domain));
}

lib::Status add_port_handler(Domain& d, const PortHandler& h)
{
    if (d.port_count == Domain::max_port_handlers || h.count == 0 || uint32_t(h.base) + h.count > 0x10000)
        return lib::err(lib::Error::invalid);
    d.ports[d.port_count++] = h;
    return {};
}

lib::Status add_mmio_handler(Domain& d, const MmioHandler& h)
{
    if (d.mmio_count == Domain::max_mmio_handlers || h.size == 0 || h.base + h.size < h.base || !h.read || !h.write)
        return lib::err(lib::Error::invalid);
    for (uint64_t a = h.base; a < h.base + h.size; a += arch::page_size)
        if (chunk_of(d, a)) return lib::err(lib::Error::exists);
    for (size_t i = 0; i < d.mmio_count; ++i)
        if (h.base < d.mmio[i].base + d.mmio[i].size && d.mmio[i].base < h.base + h.size)
            return lib::err(lib::Error::exists);
    d.mmio[d.mmio_count++] = h;
    return {};
}

const MmioHandler* find_mmio_handler(const Domain& d, uint64_t gpa)
{
    for (size_t i = 0; i < d.mmio_count; ++i)
        if (gpa >= d.mmio[i].base && gpa - d.mmio[i].base < d.mmio[i].size) return &d.mmio[i];
    return nullptr;
}

lib::Status copy_to_guest(Domain& d, uint64_t gpa, const void* src, size_t len)
{
    auto* s = static_cast<const uint8_t*>(src);
    return for_each_piece(d, gpa, len, [&](uint8_t* p, size_t at, size_t n) { memcpy(p, s + at, n); });
}

lib::Status copy_from_guest(const Domain& d, uint64_t gpa, void* dst, size_t len)
{
    auto* o = static_cast<uint8_t*>(dst);
    return for_each_piece(d, gpa, len, [&](uint8_t* p, size_t at, size_t n) { memcpy(o + at, p, n); });
}

lib::Status zero_guest(Domain& d, uint64_t gpa, size_t len)
{
    return for_each_piece(d, gpa, len, [&](uint8_t* p, size_t, size_t n) { memset(p, 0, n); });
}

void crash_domain(Domain& d, const char* fmt, ...)
{
    if (d.state == DomainState::crashed || d.state == DomainState::shutdown) return;
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    lib::vformat(why, sizeof why, fmt, ap);
    va_end(ap);
    d.state = DomainState::crashed;
    lib::copy_cstr(d.stop_reason, sizeof d.stop_reason, why);
    LOG_ERROR("dom%u: crashed: %s", d.id, why);
}

void shutdown_domain(Domain& d, const char* why)
{
    if (d.state == DomainState::crashed || d.state == DomainState::shutdown) return;
    d.state = DomainState::shutdown;
    lib::copy_cstr(d.stop_reason, sizeof d.stop_reason, why);
    LOG_INFO("dom%u: shut down: %s", d.id, why);
}

}  // namespace hv
