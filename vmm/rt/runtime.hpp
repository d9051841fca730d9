// Dom0's runtime: the start information hv passed, console output with
// printf-style formatting, and the heap.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>

#include "hv/abi/hypercall.hpp"
#include "lib/allocator.hpp"

namespace vmm {

const hv::abi::StartInfo& start_info();
// Checks the start information and sets up the heap; false (with a message)
// if hv handed over something this Dom0 cannot use.
bool init_runtime(const hv::abi::StartInfo* si);

// Console output (the serial line through hv).
void out(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void vout(const char* fmt, va_list ap);
void out_raw(const char* s, size_t n);

lib::Allocator& heap();

}  // namespace vmm
