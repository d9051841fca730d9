// Domain builder for Multiboot1 kernels (the QEMU -kernel kind): checks the
// Multiboot header, copies the ELF's segments to their physical addresses
// in guest RAM and writes the Multiboot information (memory sizes and map,
// command line, loader name) the kernel finds in EBX. Portable: guest RAM is
// reached through GuestMemory, so host tests load into a buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "lib/str.hpp"

namespace vmm::builder {

class GuestMemory {
public:
    virtual uint64_t size() const = 0;  // bytes of RAM from guest-physical 0
    virtual lib::Status write(uint64_t gpa, const void* src, size_t len) = 0;
    virtual lib::Status zero(uint64_t gpa, size_t len) = 0;

protected:
    ~GuestMemory() = default;
};

// What vCPU 0 starts with (Multiboot 0.6.96 section 3.2).
struct MultibootBoot {
    uint32_t entry;
    uint32_t magic;  // EAX: 0x2BADB002
    uint32_t info;   // EBX: guest-physical address of the information
};

// Where the information goes: one page below the EBDA, clear of kernels
// loaded at 1 MiB.
inline constexpr uint64_t multiboot_info_gpa = 0x9000;

// Loads `image`. Errors (with *why set to a sentence for the user): not a
// Multiboot kernel or bad header checksum (invalid), not an ELF (invalid),
// a segment outside RAM or over the information page (out_of_range), a
// command line longer than 3 KiB (out_of_range).
lib::Result<MultibootBoot> load_multiboot(const uint8_t* image, size_t size, GuestMemory& mem, lib::StrView cmdline,
                                          const char** why);

}  // namespace vmm::builder
