// Test build only: runs each Multiboot module as a test guest (a Multiboot1
// kernel, the same file that runs under QEMU -kernel) in its own domain with
// one vCPU, with a debug-exit port at 0xf4 and a console on COM1, and reports
// how it ended. The production build starts only Dom0.
#pragma once

#include "hv/boot/boot_info.hpp"

namespace hv::testguest {
void run_all(const boot::BootInfo& info);
}  // namespace hv::testguest
