#include "vmm/rt/runtime.hpp"

#include "hv/mem/heap.hpp"
#include "lib/format.hpp"
#include "lib/log.hpp"
#include "vmm/rt/hypercall.hpp"

namespace vmm {
namespace {

constinit hv::abi::StartInfo info{};
constinit hv::mem::Heap dom0_heap;

// Pages for the heap: a bump pointer over the heap region with a free list
// of returned runs (first fit).
struct FreeRun {
    FreeRun* next;
    size_t pages;
};
struct PageArena {
    uint64_t next = 0, end = 0;
    FreeRun* free = nullptr;
};
constinit PageArena arena;

void* arena_alloc(void*, size_t pages)
{
    for (FreeRun** link = &arena.free; *link; link = &(*link)->next) {
        FreeRun* r = *link;
        if (r->pages < pages) continue;
        if (r->pages == pages) {
            *link = r->next;
            return r;
        }
        r->pages -= pages;
        return reinterpret_cast<uint8_t*>(r) + r->pages * 4096;
    }
    if (arena.end - arena.next < pages * 4096) return nullptr;
    void* p = reinterpret_cast<void*>(arena.next);
    arena.next += pages * 4096;
    return p;
}

void arena_free(void*, void* p, size_t pages)
{
    auto* r = static_cast<FreeRun*>(p);
    r->pages = pages;
    r->next = arena.free;
    arena.free = r;
}

}  // namespace

const hv::abi::StartInfo& start_info() { return info; }

bool init_runtime(const hv::abi::StartInfo* si)
{
    if (!si || si->magic != hv::abi::StartInfo::magic_value) {
        static const char msg[] = "dom0: bad start information from hv\n";
        hc::console_write(msg, sizeof msg - 1);
        return false;
    }
    info = *si;
    if (info.abi_version != hv::abi::abi_version) {
        out("dom0: hv speaks ABI version %u, this Dom0 version %u\n", info.abi_version, hv::abi::abi_version);
        return false;
    }
    arena.next = info.heap_base;
    arena.end = info.heap_base + info.heap_size;
    dom0_heap.init({arena_alloc, arena_free, nullptr});
    return true;
}

void out_raw(const char* s, size_t n) { hc::console_write(s, n); }

void vout(const char* fmt, va_list ap)
{
    char buf[1024];
    size_t n = lib::vformat(buf, sizeof buf, fmt, ap);
    if (n >= sizeof buf) n = sizeof buf - 1;
    out_raw(buf, n);
}

void out(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vout(fmt, ap);
    va_end(ap);
}

lib::Allocator& heap() { return dom0_heap; }

}  // namespace vmm

namespace lib {
// Dom0's log lines join the hypervisor's log (xl dmesg); hv shows warnings
// and errors on the console as they happen.
void log_write(LogLevel level, const char* line)
{
    size_t n = 0;
    while (line[n]) ++n;
    if (!vmm::hc::log_write(unsigned(level), line, n).ok()) vmm::out("dom0: %s\n", line);
}
}  // namespace lib

extern "C" [[noreturn]] void rt_panic(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmm::out("dom0: PANIC: ");
    vmm::vout(fmt, ap);
    va_end(ap);
    vmm::out("\n");
    vmm::hc::thread_exit(-1);
}
