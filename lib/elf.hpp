// ELF program-header reader for loaders (test guests today, Dom0's domain
// builder later): ELF32 and ELF64 little-endian x86 executables. Every
// header and segment is bounds-checked against the image.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace lib::elf {

struct Segment {
    uint64_t paddr;     // physical load address (what a Multiboot loader uses)
    uint64_t vaddr;
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t mem_size;  // >= file_size; the rest is zero-filled
    uint32_t flags;     // PF_X 1, PF_W 2, PF_R 4
};

struct Image {
    bool is64;
    uint64_t entry;
    size_t segment_count;
    Segment segments[16];
};

// Parses the headers of `data` (the whole file). Errors: not ELF or not x86
// (invalid), headers or segments outside the file (truncated), file_size >
// mem_size or address wrap (invalid), more than 16 PT_LOAD segments
// (unsupported).
Result<Image> parse(const void* data, size_t size);

// A note's descriptor (gABI "Note Section"): a view into the file.
struct Note {
    const uint8_t* desc;
    size_t desc_size;
};

// Finds the first note called `name` (compared with its terminating NUL) of
// type `type`, looking in the PT_NOTE segments and then the SHT_NOTE
// sections: a Xen-style kernel (Linux's vmlinux) carries its notes in both,
// a stripped one perhaps only in the segment. Every note area and note is
// bounds-checked; a malformed area ends the search of that area only.
// Errors: not a little-endian ELF32/ELF64 (invalid), no such note
// (not_found).
Result<Note> find_note(const void* data, size_t size, const char* name, uint32_t type);

}  // namespace lib::elf
