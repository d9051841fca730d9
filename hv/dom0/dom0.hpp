// Starting Dom0: the first Multiboot module is its ELF image, the second (if
// any) the cpio archive of its files. Dom0 gets its own address space (the
// ELF's segments W^X, a stack below a guard page, a heap of dom0_mem bytes,
// the archive read-only, a start-info page) and one thread on CPU 0.
#pragma once

#include "hv/boot/boot_info.hpp"
#include "hv/boot/cmdline.hpp"
#include "lib/result.hpp"

namespace hv::dom0 {

// Fixed places in Dom0's address space (docs/abi.md).
inline constexpr uint64_t heap_base = 0x0000'0001'0000'0000ull;       // 4 GiB
inline constexpr uint64_t files_base = 0x0000'0002'0000'0000ull;      // 8 GiB
inline constexpr uint64_t start_info_va = 0x0000'7fff'0000'0000ull;
inline constexpr uint64_t evtchn_page_va = 0x0000'7fff'0001'0000ull;
inline constexpr uint64_t stack_top = 0x0000'7fff'f000'0000ull;
inline constexpr uint64_t stack_size = 256 * 1024;
inline constexpr uint64_t default_heap = 64ull << 20;

lib::Status start(const boot::BootInfo& info, const boot::CmdLine& cmdline);

}  // namespace hv::dom0
