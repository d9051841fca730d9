// The hypercall ABI between hv and Dom0 (docs/abi.md). Dom0 runs in ring 3
// of the host and enters hv with SYSCALL:
//
//   rax = call number (Call), rdi, rsi, rdx, r10, r8, r9 = arguments
//   returns rax = Status, rdx = a value (handle, count, size) when the call
//   has one; every other register but rcx and r11 (clobbered by SYSCALL) is
//   preserved.
//
// Objects are named by handles into the caller's capability table; every
// call states the rights it needs on each handle. Pointers are addresses in
// the caller's address space; hv checks that every byte is mapped for the
// caller with the access it needs before it touches one. Layouts in this file
// are fixed: each struct has static_asserts on its size and offsets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::abi {

// Call numbers. New calls get new numbers; numbers are never reused.
enum class Call : uint64_t {
    console_write = 0,   // (buf, len): bytes to the Dom0 console (the serial line)
    console_read = 1,    // (buf, cap, timeout_ns) -> bytes read; 0 after the timeout
    log_read = 2,        // (seq, buf, cap) -> next seq; see log_read below
    system_info = 3,     // (SystemInfo* out)
    clock = 4,           // () -> nanoseconds since boot
    thread_exit = 5,     // (code): ends the calling thread; the last one ends Dom0
    yield = 6,           // (): give up the rest of this slice
    sleep = 7,           // (ns): block for at least ns
    count_
};

// Results. Zero is success; the rest mirror lib::Error plus ABI-only codes.
enum class Status : uint64_t {
    ok = 0,
    invalid = 1,        // a malformed argument (bad flags, size, alignment)
    truncated = 2,
    bad_checksum = 3,
    unsupported = 4,
    no_memory = 5,
    not_found = 6,      // no such object (including a stale or forged handle)
    exists = 7,
    out_of_range = 8,
    busy = 9,
    io = 10,
    denied = 11,        // the handle lacks a right the call needs
    corrupt = 12,
    bad_address = 13,   // a pointer argument is not mapped for the caller as needed
    bad_call = 14,      // no such call number
    timed_out = 15,
    wrong_type = 16,    // the handle names an object of another type
};

constexpr const char* status_name(Status s)
{
    switch (s) {
    case Status::ok: return "ok";
    case Status::invalid: return "invalid argument";
    case Status::truncated: return "truncated";
    case Status::bad_checksum: return "bad checksum";
    case Status::unsupported: return "unsupported";
    case Status::no_memory: return "out of memory";
    case Status::not_found: return "no such object";
    case Status::exists: return "exists";
    case Status::out_of_range: return "out of range";
    case Status::busy: return "busy";
    case Status::io: return "I/O error";
    case Status::denied: return "permission denied";
    case Status::corrupt: return "corrupt";
    case Status::bad_address: return "bad address";
    case Status::bad_call: return "no such hypercall";
    case Status::timed_out: return "timed out";
    case Status::wrong_type: return "wrong object type";
    }
    return "unknown status";
}

using Handle = uint32_t;
inline constexpr Handle no_handle = 0;

// What hv hands Dom0's first thread in rdi: where things are in its address
// space and the capabilities it starts with.
struct StartInfo {
    static constexpr uint64_t magic_value = 0x3049'4e49'5452'5453ull;  // "STRTINI0"
    uint64_t magic;
    uint32_t abi_version;
    uint32_t cpu_count;
    uint64_t heap_base;      // RW memory for Dom0's allocator
    uint64_t heap_size;
    uint64_t files_base;     // the cpio archive (second Multiboot module), read-only; 0 if none
    uint64_t files_size;
    uint64_t cmdline;        // NUL-terminated command line of the Dom0 module
    uint64_t tsc_hz;
    Handle self;             // Dom0's own domain
    Handle control;          // the control capability (create domains, read the log)
    uint64_t reserved[8];
};
static_assert(sizeof(StartInfo) == 136);
static_assert(offsetof(StartInfo, heap_base) == 16);
static_assert(offsetof(StartInfo, self) == 64);

inline constexpr uint32_t abi_version = 1;

struct SystemInfo {
    char hv_version[16];
    char backend[8];        // "svm" or "vmx"
    uint32_t cpu_count;
    uint32_t numa_nodes;
    uint64_t tsc_hz;
    uint64_t total_memory;  // bytes of RAM managed by hv
    uint64_t free_memory;
    uint64_t uptime_ns;
    char cpu_vendor[16];
    char cpu_model[48];
};
static_assert(sizeof(SystemInfo) == 128);
static_assert(offsetof(SystemInfo, cpu_count) == 24);

// log_read copies whole lines of the hypervisor log, oldest first, from
// sequence number `seq` (or the oldest line still kept, if that one was
// dropped) into buf as "<L>text\n" (L = the level digit, 0 error .. 3
// debug), NUL-terminated; rdx = the sequence number to ask for next. A
// reader that keeps passing it back sees every line once.

enum class ObjectType : uint32_t { none = 0, domain = 1, vcpu = 2, thread = 3, evtchn = 4, region = 5, device = 6, control = 7 };

struct HandleInfo {
    ObjectType type;
    uint32_t rights;
    uint64_t koid;  // a number that names the object system-wide (for logs)
};
static_assert(sizeof(HandleInfo) == 16);

}  // namespace hv::abi
